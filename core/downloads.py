"""Files for the browser: Flask's send_file, so names with umlauts get a proper
`filename*=UTF-8''…` and every download is built the same way (no caching: core.security)."""

from __future__ import annotations

import io
import re
import unicodedata

from flask import Response, send_file

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


def download(data: bytes, mimetype: str, filename: str, *, inline: bool = False) -> Response:
    return send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=not inline,
        download_name=safe_filename(filename),  # also names stored before they were made safe
        etag=False,
        conditional=False,
        max_age=0,
    )
