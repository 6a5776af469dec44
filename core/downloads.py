"""Files for the browser: Flask's send_file, so names with umlauts get a proper
`filename*=UTF-8''…` and every download is built the same way (no caching: core.security)."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO
from urllib.parse import quote

from flask import Response, send_file, stream_with_context

MAX_NAME = 120
# control characters (C0, DEL, C1), path separators and what Windows refuses in a file name
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]')


def safe_filename(name: str, extension: str | None = None, *, fallback: str = "Datei") -> str:
    """A file name fit to store and to send in a header (issue #25 item 5): NFC, no control
    characters (a CR/LF broke the download's header, a NUL the database), no path, at most
    MAX_NAME characters; `extension` (e.g. the sniffed type's) replaces whatever the name claimed."""
    text = unicodedata.normalize("NFC", name)
    text = " ".join(_UNSAFE.sub(" ", text).split()).strip(" .")
    stem = text.rsplit(".", 1)[0] if extension and "." in text else text
    stem = stem[: MAX_NAME - (len(extension) + 1 if extension else 0)].strip(" .") or fallback
    return f"{stem}.{extension}" if extension else stem


def download(data: bytes | IO[bytes], mimetype: str, filename: str, *, inline: bool = False) -> Response:
    """bytes, or a file to stream from (a stored document: read in blocks, never whole in memory)."""
    return send_file(
        io.BytesIO(data) if isinstance(data, bytes) else data,
        mimetype=mimetype,
        as_attachment=not inline,
        download_name=safe_filename(filename),  # also names stored before they were made safe
        etag=False,
        conditional=False,
        max_age=0,
    )


def stream(chunks: Iterable[bytes], mimetype: str, filename: str) -> Response:
    """A download made while it is sent (a ZIP of stored documents): the same headers as download."""
    response = Response(stream_with_context(iter(chunks)), mimetype=mimetype)
    name = safe_filename(filename)
    try:
        name.encode("ascii")
        names = {"filename": name}
    except UnicodeEncodeError:  # as werkzeug's send_file names it
        simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        names = {"filename": simple, "filename*": "UTF-8''" + quote(name, safe="!#$&+^`|~")}
    response.headers.set("Content-Disposition", "attachment", **names)
    return response


class _Pipe(io.RawIOBase):
    """Where zipfile writes: what it wrote so far, taken out in pieces (zipfile handles a stream it
    cannot seek: sizes follow each member in a data descriptor)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def zip_stream(members: Iterable[tuple[str, Callable[[], IO[bytes]]]], block: int = 64 * 1024) -> Iterator[bytes]:
    """A ZIP of (name, opener) members, produced while it is sent: each member is read in blocks."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, opener in members:
            with archive.open(name, "w") as entry, opener() as body:
                while data := body.read(block):
                    entry.write(data)
                    if out := pipe.take():
                        yield out
            if out := pipe.take():
                yield out
    if out := pipe.take():
        yield out
