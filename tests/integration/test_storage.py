"""Document storage (issue #28 item 9): a directory on this machine, or an S3-compatible bucket (moto's
server mode, spoken to over HTTP by boto3 as the real service would be). Both keep, read, stream and
delete the same way; an object written by a transaction that then failed is swept by the worker once
it is older than any transaction, and an object whose transaction committed never is."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from functools import partial

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from core import clock, storage
from core.app import create_app
from core.downloads import zip_stream
from core.storage import DirectoryStore, S3Store, StorageError, StoredObject
from tests.conftest import environ_for


@pytest.fixture(params=["directory", "s3"])
def store(request, tmp_path):
    if request.param == "directory":
        return DirectoryStore(tmp_path / "store")
    settings = request.getfixturevalue("s3_bucket")
    return S3Store.from_url(
        settings["DOCUMENT_STORAGE_URL"], endpoint_url=settings["S3_ENDPOINT_URL"], region=settings["S3_REGION"]
    )


def test_a_store_keeps_reads_streams_lists_and_deletes(store):
    now = clock.now()
    key = storage.new_key(now)
    store.put(key, b"%PDF-1.4 erste Fassung")
    store.put(key, b"%PDF-1.4 " + b"x" * 200_000)  # a second put replaces it whole
    assert store.get(key) == b"%PDF-1.4 " + b"x" * 200_000
    with store.open(key) as body:
        assert body.read(9) == b"%PDF-1.4 "
    assert key in {k for k, _ in store.keys_of_day(now.date())}
    store.delete(key)
    with pytest.raises(StorageError):
        store.get(key)
    with pytest.raises(StorageError):
        store.get("../../etc/passwd")  # a key is never a path


def test_an_object_of_a_failed_transaction_is_swept_and_a_committed_one_kept(store, app, time_machine):
    app.extensions["document_store"] = store
    with app.app_context():
        maker = app.extensions["database"].sessionmaker
        with maker() as committed:
            kept, _ = storage.store(committed, b"%PDF-1.4 Versicherungsschein")
            committed.commit()
        with maker() as failed:
            orphan, _ = storage.store(failed, b"%PDF-1.4 nie festgeschrieben")
            failed.rollback()  # e.g. the policing failed after the PDF was written
        with maker() as s:
            assert s.scalar(sa.select(sa.func.count()).where(StoredObject.key == kept)) == 1
            # young objects stay: their transaction may still be running
            assert storage.sweep(s, store, now=clock.now(), min_age=timedelta(hours=24), days=3) == 0
            time_machine.move_to(clock.now() + timedelta(hours=25))
            assert storage.sweep(s, store, now=clock.now(), min_age=timedelta(hours=24), days=3) == 1
            assert storage.sweep(s, store, now=clock.now(), min_age=timedelta(hours=24), days=3) == 0  # once
    assert store.get(kept) == b"%PDF-1.4 Versicherungsschein"
    with pytest.raises(StorageError):
        store.get(orphan)


def test_a_zip_of_stored_documents_is_made_while_it_is_sent(store):
    now = clock.now()
    members = []
    for n in range(3):
        key = storage.new_key(now)
        store.put(key, f"%PDF-1.4 Dokument {n} ".encode() + bytes(range(256)) * 500)
        members.append((f"2026-12-0{n + 1}_Nachtrag-{n}.pdf", partial(store.open, key)))
    pieces = list(zip_stream(members, block=4096))
    assert len(pieces) > 3  # sent in pieces, not built whole first
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    assert archive.testzip() is None
    assert archive.namelist() == [name for name, _ in members]
    assert archive.read("2026-12-02_Nachtrag-1.pdf").startswith(b"%PDF-1.4 Dokument 1 ")


def test_the_app_keeps_policed_documents_in_the_bucket_and_streams_them(
    database_url, connection, s3_bucket, tmp_path, demo_reference, broker
):
    """With DOCUMENT_STORAGE_URL the policing's PDFs go to the bucket (nothing to the local directory)
    and the broker's download is read from it."""
    from tests.helpers import login
    from tests.web.test_applications import PORTAL, apply, quote

    app = create_app(environ={**environ_for(database_url), **s3_bucket, "DOCUMENT_STORAGE_DIR": str(tmp_path / "d")})
    app.extensions["database"].bind_to(connection)
    assert isinstance(app.extensions["document_store"], S3Store)
    from contracts.models import Contract, Document

    client = app.test_client()
    assert login(client, broker.email).status_code == 302
    assert apply(client, quote(client), PORTAL).status_code == 302
    s = app.extensions["database"].sessionmaker()
    contract = s.scalars(sa.select(Contract).order_by(Contract.id.desc())).first()
    policy = s.scalar(
        sa.select(Document).where(Document.contract_id == contract.id, Document.title == "Versicherungsschein")
    )
    assert s.scalar(sa.select(StoredObject.size).where(StoredObject.key == policy.storage_key)) == policy.size
    assert not (tmp_path / "d").exists()
    response = client.get(f"/dokumente/{policy.public_id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "Versicherungsschein" in PdfReader(io.BytesIO(response.get_data())).pages[0].extract_text()
    s.close()
    app.extensions["database"].engine.dispose()
