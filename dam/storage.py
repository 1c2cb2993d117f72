"""Content-addressed originals and derived files, through Django's storage API."""

from __future__ import annotations

import hashlib
from typing import IO

from django.core.files import File
from django.core.files.storage import default_storage

CHUNK = 1024 * 1024


def sha256_of(fileobj: IO[bytes]) -> tuple[str, int]:
    """Hash a file in chunks (never whole in memory); returns (hex digest, size)."""
    digest = hashlib.sha256()
    size = 0
    fileobj.seek(0)
    while chunk := fileobj.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    fileobj.seek(0)
    return digest.hexdigest(), size


def original_name(sha256: str) -> str:
    return f"originals/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def blob_put(fileobj: IO[bytes], sha256: str, *, size: int) -> tuple[str, bool]:
    """Store an original under its hash; returns (name, created). Same bytes, one blob.

    Callers hold the hash's advisory lock. A blob of the wrong size (a write cut short
    by a crash) is replaced rather than trusted.
    """
    name = original_name(sha256)
    if default_storage.exists(name):
        if default_storage.size(name) == size:
            return name, False
        default_storage.delete(name)
    fileobj.seek(0)
    saved = default_storage.save(name, File(fileobj, name=name))
    if saved != name:  # cannot happen under the lock; never keep a stray copy
        default_storage.delete(saved)
    return name, True


def blob_delete(name: str) -> None:
    if name and default_storage.exists(name):
        default_storage.delete(name)


def open_blob(name: str):
    return default_storage.open(name, "rb")


def presigned_url(
    name: str, *, seconds: int, content_type: str, attachment: str = "", cache: str = ""
):
    """A short-lived URL that storage itself serves the file from (S3: presigned, with
    the content type, disposition and caching signed in), or None when storage is a local disk."""
    from django.core.files.storage import default_storage

    if not hasattr(default_storage, "bucket_name"):  # not django-storages' S3Storage
        return None
    parameters = {"ResponseContentType": content_type}
    if cache:
        parameters["ResponseCacheControl"] = cache
    if attachment:
        from django.utils.http import content_disposition_header

        parameters["ResponseContentDisposition"] = content_disposition_header(True, attachment)
    return default_storage.url(name, parameters=parameters, expire=seconds)
