"""Document storage: the one module that knows where document bytes live — a local directory (the
embedded default, DOCUMENT_STORAGE_DIR) or an S3-compatible bucket (DOCUMENT_STORAGE_URL=s3://bucket/
prefix, for several machines: every web process and worker reads and writes the same objects).

Keys are opaque to callers. An object is written *before* the transaction that refers to it commits,
and the same transaction records it in `stored_objects`; so an object whose transaction failed (or
whose process died) is one the table does not know. The worker's sweep lists the objects of the last
days (new keys begin with their day: one listing per day, never the whole bucket) and deletes the
unknown ones once they are older than any transaction (STORAGE_ORPHAN_HOURS).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, current_app

from core import clock
from core.db import Base

log = logging.getLogger(__name__)
CHUNK = 64 * 1024  # bytes per read when a document is streamed


class StorageError(RuntimeError):
    pass


class StoredObject(Base):
    """An object whose transaction committed (see the module's docstring)."""

    __tablename__ = "stored_objects"

    key: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    size: so.Mapped[int]
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    created_at: so.Mapped[datetime] = so.mapped_column(default=clock.now)


class Store(Protocol):
    """Where the bytes are. put is atomic (a reader sees all of an object or none)."""

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def open(self, key: str) -> IO[bytes]: ...
    def delete(self, key: str) -> None: ...
    def keys_of_day(self, day: date) -> Iterator[tuple[str, datetime]]:
        """The keys written on that day (UTC, from the key) with their write time."""
        ...


def new_key(now: datetime) -> str:
    return f"{now:%Y%m%d}-{secrets.token_hex(16)}"


def _check(key: str) -> str:
    if not key or "/" in key or "." in key or len(key) > 64:
        raise StorageError(f"invalid storage key {key!r}")
    return key


@dataclass(frozen=True)
class DirectoryStore:
    """One directory on this machine: new keys under their day (20261207/20261207-…), the keys of
    earlier versions (hex only) under their first two characters."""

    root: Path

    def _path(self, key: str) -> Path:
        _check(key)
        day, dash, _ = key.partition("-")
        return self.root / (day if dash else key[:2]) / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise StorageError(f"document {key} is missing") from exc

    def open(self, key: str) -> IO[bytes]:
        """Read at once: a local PDF is small and read in a millisecond, and no file handle is left to
        the WSGI server's closing of the response (the bucket's objects are streamed)."""
        return io.BytesIO(self.get(key))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys_of_day(self, day: date) -> Iterator[tuple[str, datetime]]:
        folder = self.root / f"{day:%Y%m%d}"
        if not folder.is_dir():
            return
        for path in folder.iterdir():
            if path.name.startswith(f"{day:%Y%m%d}-"):  # a half-written temp file is not an object
                yield path.name, datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


class S3Store:
    """An S3-compatible bucket (boto3). Credentials come from the environment as boto3 reads them
    (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or an instance role); never from our config files."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket, self.prefix, self.client = bucket, prefix.strip("/"), client

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None, region: str | None) -> S3Store:
        import boto3
        from botocore.config import Config

        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise StorageError(f"DOCUMENT_STORAGE_URL must look like s3://bucket/prefix, not {url!r}")
        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )
        return cls(parts.netloc, parts.path, client)

    def _name(self, key: str) -> str:
        _check(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        digest = hashlib.md5(data, usedforsecurity=False).digest()  # S3 checks the upload against it
        import base64

        self.client.put_object(
            Bucket=self.bucket, Key=self._name(key), Body=data, ContentMD5=base64.b64encode(digest).decode()
        )

    def _missing(self, error: Exception) -> bool:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        return code in ("NoSuchKey", "404", "NotFound")

    def get(self, key: str) -> bytes:
        with self.open(key) as body:
            return body.read()

    def open(self, key: str) -> IO[bytes]:
        from botocore.exceptions import ClientError

        try:
            body: IO[bytes] = self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except ClientError as exc:
            if self._missing(exc):
                raise StorageError(f"document {key} is missing") from exc
            raise
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def keys_of_day(self, day: date) -> Iterator[tuple[str, datetime]]:
        start = f"{self.prefix}/" if self.prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{start}{day:%Y%m%d}-"
        )
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"][len(start) :], item["LastModified"]


def store_from_config(config: Mapping[str, Any], instance_path: str) -> Store:
    url = config.get("DOCUMENT_STORAGE_URL") or ""
    if url:
        return S3Store.from_url(url, endpoint_url=config.get("S3_ENDPOINT_URL"), region=config.get("S3_REGION"))
    return DirectoryStore(Path(config.get("DOCUMENT_STORAGE_DIR") or Path(instance_path) / "documents"))


def init_app(app: Flask) -> None:
    """Built once at start-up; the worker's sweep is registered by messaging (core registers no tasks)."""
    app.extensions["document_store"] = store_from_config(app.config, app.instance_path)


def current() -> Store:
    found: Store = current_app.extensions["document_store"]
    return found


# --- what the rest of the code calls --------------------------------------------------------------------


def store(session: so.Session, data: bytes) -> tuple[str, str]:
    """Keep the bytes, before the caller's transaction commits; the same transaction records the
    object (an object of a failed transaction is swept). Returns (key, sha256)."""
    key = new_key(clock.now())
    digest = hashlib.sha256(data).hexdigest()
    current().put(key, data)
    session.add(StoredObject(key=key, size=len(data), sha256=digest, created_at=clock.now()))
    return key, digest


def load(key: str) -> bytes:
    return current().get(key)


def open_stream(key: str) -> IO[bytes]:
    """The object as a file to read from (streamed to the browser by core.downloads)."""
    return current().open(key)


def chunks(key: str) -> Iterator[bytes]:
    with current().open(key) as body:
        while block := body.read(CHUNK):
            yield block


def sweep(session: so.Session, store_: Store, *, now: datetime, min_age: timedelta, days: int) -> int:
    """Delete the objects of the last `days` days that no committed transaction recorded and that are
    older than `min_age` (no transaction runs that long). Returns how many were deleted."""
    deleted = 0
    for back in range(days, -1, -1):
        day = (now - timedelta(days=back)).date()
        batch: list[tuple[str, datetime]] = []
        for item in store_.keys_of_day(day):
            batch.append(item)
            if len(batch) >= 500:
                deleted += _sweep_batch(session, store_, batch, now - min_age)
                batch = []
        deleted += _sweep_batch(session, store_, batch, now - min_age)
    return deleted


def sweeper(app: Flask) -> Callable[[so.Session], int]:
    """The worker task: a sweep at most every STORAGE_SWEEP_MINUTES per process (deleting is
    idempotent, so two workers sweeping at once do no harm)."""
    every = timedelta(minutes=app.config["STORAGE_SWEEP_MINUTES"])
    min_age = timedelta(hours=app.config["STORAGE_ORPHAN_HOURS"])
    days = int(app.config["STORAGE_SWEEP_DAYS"])
    last: list[datetime] = []

    def task(session: so.Session) -> int:
        now = clock.now()
        if last and now - last[0] < every:
            return 0
        last[:] = [now]
        deleted = sweep(session, app.extensions["document_store"], now=now, min_age=min_age, days=days)
        session.rollback()  # it only read
        return deleted

    return task


def _sweep_batch(session: so.Session, store_: Store, batch: list[tuple[str, datetime]], before: datetime) -> int:
    old = [key for key, written in batch if written < before]
    if not old:
        return 0
    known = set(session.scalars(sa.select(StoredObject.key).where(StoredObject.key.in_(old))))
    orphans = [key for key in old if key not in known]
    for key in orphans:
        store_.delete(key)
        log.info("storage sweep: deleted orphan %s", key)
    return len(orphans)
