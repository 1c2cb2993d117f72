"""A zip of originals streamed as it is written (never whole in memory); stdlib only."""

from __future__ import annotations

import logging
import os
import re
import zipfile
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.utils import timezone

from accounts import policy
from assets.models import Asset, AssetVersion
from dam.storage import CHUNK, open_blob

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^\w .()\-]+")
_EXT = re.compile(r"^[A-Za-z0-9]{1,10}$")


class _Sink:
    """A write-only file: zipfile writes into it, the generator drains it."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def safe_member_name(asset: Asset, version, taken: set[str]) -> str:
    """A flat, server-made file name: no directories, no dots first, unique (case-blind)."""
    stem = _UNSAFE.sub("_", asset.display_name or "").strip(" ._")[:100] or f"asset-{asset.pk}"
    ext = os.path.splitext(version.original_filename or "")[1].lstrip(".")
    if not _EXT.match(ext):
        ext = (version.format or "bin").lower()
        ext = ext if _EXT.match(ext) else "bin"
    name = f"{stem}.{ext.lower()}"
    n = 2
    while name.casefold() in taken:
        name = f"{stem} ({n}).{ext.lower()}"
        n += 1
    taken.add(name.casefold())
    return name


def current_versions(assets: Iterable[Asset]) -> list[tuple[Asset, AssetVersion]]:
    """Each asset with its current version (one query); those without one are left out."""
    assets = list(assets)
    wanted = {a.pk: a.version for a in assets}
    current = {
        v.asset_id: v
        for v in AssetVersion.objects.filter(asset_id__in=wanted)
        if wanted[v.asset_id] == v.number
    }
    return [(a, current[a.pk]) for a in assets if a.pk in current]


def zip_chunks(pairs: Iterable[tuple[Asset, AssetVersion]]) -> Iterator[bytes]:
    sink = _Sink()
    taken: set[str] = set()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for asset, version in pairs:
            try:
                source = open_blob(version.blob_name)
            except FileNotFoundError:
                log.error("storage is missing original %s (asset %s)", version.blob_name, asset.pk)
                continue
            info = zipfile.ZipInfo(
                safe_member_name(asset, version, taken),
                date_time=timezone.localtime(version.created_at).timetuple()[:6],
            )
            info.compress_type = zipfile.ZIP_STORED
            with source, archive.open(info, "w", force_zip64=True) as member:
                while chunk := source.read(CHUNK):
                    member.write(chunk)
                    yield sink.drain()
            yield sink.drain()
    yield sink.drain()


def zip_response(user, assets: list[Asset], filename: str = "assets.zip") -> StreamingHttpResponse:
    """The originals `user` may download (the "block downloads" preference) as a zip;
    403 when none of them is."""
    assets = policy.downloadable_originals(user, assets)
    if not assets:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(policy.BLOCKED_DOWNLOAD)
    from assets.services import downloads_record

    pairs = current_versions(assets)
    served = [(a.pk, v.number, v.bytes) for a, v in pairs]
    downloads_record(actor=user, served=served, via="zip")
    response = StreamingHttpResponse(zip_chunks(pairs), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def bulk_zip(user, ids) -> StreamingHttpResponse:
    """The originals the user may view among `ids`, streamed; the others are left out
    (missing and invisible alike), and none at all is a 404."""
    from django.http import Http404

    from assets.services import BULK_MAX_IDS, ValidationFailed

    ids = [int(pk) for pk in dict.fromkeys(ids or []) if policy.is_valid_id(pk)]
    if not ids:
        raise ValidationFailed("Choose at least one asset.", field="ids")
    if len(ids) > BULK_MAX_IDS:
        raise ValidationFailed(f"At most {BULK_MAX_IDS} assets at a time.", field="ids")
    # Downloading is open to collection viewers too (view and download, nothing more).
    chosen = Asset.objects.filter(pk__in=ids)
    found = policy.visible_assets(user, chosen, minimum=policy.Level.COLLECTION).in_bulk()
    assets = [found[pk] for pk in ids if pk in found]
    if not assets:
        raise Http404("No such asset.")
    return zip_response(user, assets)
