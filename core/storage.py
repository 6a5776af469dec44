"""Document storage: the one module that knows where document bytes live (a directory now; an object
store later means changing only this module). Keys are opaque; writes are atomic."""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
from pathlib import Path

from flask import current_app


class StorageError(RuntimeError):
    pass


def _root() -> Path:
    root = Path(current_app.config["DOCUMENT_STORAGE_DIR"] or Path(current_app.instance_path) / "documents")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _path(key: str) -> Path:
    if not key or "/" in key or "." in key:
        raise StorageError(f"invalid storage key {key!r}")
    return _root() / key[:2] / key


def store(data: bytes) -> tuple[str, str]:
    """Keep the bytes; returns (key, sha256)."""
    key = secrets.token_hex(16)
    path = _path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return key, hashlib.sha256(data).hexdigest()


def load(key: str) -> bytes:
    try:
        return _path(key).read_bytes()
    except FileNotFoundError as exc:
        raise StorageError(f"document {key} is missing") from exc
