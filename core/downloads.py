"""Files for the browser: Flask's send_file, so names with umlauts get a proper
`filename*=UTF-8''…` and every download is built the same way (no caching: core.security)."""

from __future__ import annotations

import io

from flask import Response, send_file


def download(data: bytes, mimetype: str, filename: str, *, inline: bool = False) -> Response:
    return send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=not inline,
        download_name=filename,
        etag=False,
        conditional=False,
        max_age=0,
    )
