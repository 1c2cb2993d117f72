"""Every write to folders and assets: in a transaction, audited."""

from __future__ import annotations

import logging
import os
import re
import secrets
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from accounts import policy
from accounts.policy import Level
from assets.media import RENDITION_SPECS, MediaError, probe_image, render_thumbnail
from assets.models import (
    Asset,
    AssetType,
    AssetVersion,
    Folder,
    ProcessingStatus,
    Rendition,
)
from dam.services import audit_record
from dam.storage import blob_delete, blob_put, open_blob, sha256_of

log = logging.getLogger(__name__)

PUBLIC_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-./]{0,254}$")
FOLDER_NAME_MAX = 255


class ServiceError(Exception):
    """A business rule said no; `code` is the API's machine code, the message is for people."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(ServiceError):
    status = 422
    code = "validation_error"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class NotAllowed(ServiceError):
    status = 403
    code = "forbidden"


class TooLarge(ServiceError):
    status = 413
    code = "too_large"


def _no_nul(value: str, field: str, what: str) -> str:
    """PostgreSQL text cannot hold NUL; refuse it as bad input rather than fail later."""
    if "\x00" in value:
        raise ValidationFailed(f"{what} cannot contain NUL characters.", field=field)
    return value


def _require_level(actor, folder: Folder, minimum: Level, action: str) -> None:
    level = policy.access_for(actor).folder_level(folder)
    if level < minimum:
        raise NotAllowed(f"You need {minimum.label} access to {action} in “{folder.name}”.")


# -- folders -------------------------------------------------------------------------
def folder_create(*, actor, name: str, parent: Folder | None) -> Folder:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Enter a folder name.", field="name")
    _no_nul(name, "name", "Folder names")
    if len(name) > FOLDER_NAME_MAX or "/" in name:
        raise ValidationFailed("Folder names have at most 255 characters and no “/”.", field="name")
    if parent is None:
        if not policy.can_create_top_level_folder(actor):
            raise NotAllowed("Only admins create top-level folders.")
    else:
        _require_level(actor, parent, Level.CONTRIBUTE, "create folders")
    siblings = Folder.objects.filter(parent=parent)
    if siblings.filter(name__iexact=name).exists():
        raise Conflict(f"A folder named “{name}” already exists here.", field="name")
    try:
        with transaction.atomic():
            folder = Folder.objects.create(
                name=name,
                parent=parent,
                path=f"{parent.path if parent else ''}/{name}",
                depth=(parent.depth + 1) if parent else 0,
                created_by=actor,
            )
            folder.ancestor_ids = [*(parent.ancestor_ids if parent else []), folder.pk]
            folder.save(update_fields=["ancestor_ids"])
            audit_record(
                actor=actor,
                verb="folder.create",
                obj=folder,
                data={"path": folder.path},
            )
    except IntegrityError:
        raise Conflict(f"A folder named “{name}” already exists here.", field="name") from None
    return folder


# -- assets --------------------------------------------------------------------------
def _new_public_id() -> str:
    return secrets.token_hex(10)


def _clean_tags(tags) -> list[str]:
    if isinstance(tags, str):
        tags = tags.split(",")
    seen: dict[str, None] = {}
    for tag in tags or []:
        tag = str(tag).strip()
        if not tag:
            continue
        if len(tag) > 100:
            raise ValidationFailed("Tags have at most 100 characters.", field="tags")
        _no_nul(tag, "tags", "Tags")
        seen.setdefault(tag, None)
    return list(seen)


def asset_upload(
    *,
    actor,
    file: IO[bytes],
    filename: str,
    folder: Folder,
    display_name: str | None = None,
    public_id: str | None = None,
    tags=None,
) -> Asset:
    """Accept one file into a folder: check it, store the original, record it, process later."""
    _require_level(actor, folder, Level.CONTRIBUTE, "upload")
    size = getattr(file, "size", None)
    if size is not None and size > settings.DAM_MAX_UPLOAD_BYTES:
        raise TooLarge(f"The file is larger than the {settings.DAM_MAX_UPLOAD_BYTES:,}-byte limit.")
    if public_id is not None and public_id != "":
        if not PUBLIC_ID_RE.match(public_id) or ".." in public_id:
            raise ValidationFailed(
                "A public ID uses letters, digits, “_”, “-”, “.” and “/” (at most 255).",
                field="public_id",
            )
        if Asset.objects.filter(public_id=public_id).exists():
            raise Conflict(
                f"An asset with public ID “{public_id}” already exists.",
                field="public_id",
            )
    else:
        public_id = _new_public_id()
    tags = _clean_tags(tags)
    filename = os.path.basename((filename or "upload").replace("\x00", ""))[:255] or "upload"
    display_name = _no_nul((display_name or "").strip(), "display_name", "The display name")
    display_name = display_name[:255] or os.path.splitext(filename)[0] or filename

    try:
        facts = probe_image(file)
    except MediaError as exc:
        raise ValidationFailed(str(exc), field="file") from None
    sha256, nbytes = sha256_of(file)
    if nbytes > settings.DAM_MAX_UPLOAD_BYTES:
        raise TooLarge(f"The file is larger than the {settings.DAM_MAX_UPLOAD_BYTES:,}-byte limit.")
    if nbytes == 0:
        raise ValidationFailed("The file is empty.", field="file")

    blob_name, created_blob = blob_put(file, sha256)
    try:
        with transaction.atomic():
            asset = Asset.objects.create(
                public_id=public_id,
                display_name=display_name,
                folder=folder,
                ancestors=list(folder.ancestor_ids),
                type=AssetType.IMAGE,
                format=facts.format,
                mime_type=facts.mime_type,
                original_filename=filename,
                bytes=nbytes,
                width=facts.width,
                height=facts.height,
                tags=tags,
                created_by=actor,
            )
            version = AssetVersion.objects.create(
                asset=asset,
                number=1,
                blob_name=blob_name,
                sha256=sha256,
                bytes=nbytes,
                format=facts.format,
                mime_type=facts.mime_type,
                original_filename=filename,
                width=facts.width,
                height=facts.height,
                created_by=actor,
            )
            audit_record(
                actor=actor,
                verb="asset.upload",
                obj=asset,
                data={"folder": folder.pk, "bytes": nbytes, "sha256": sha256},
            )
            from assets.tasks import process_version

            version_id = version.pk
            transaction.on_commit(lambda: process_version.delay(version_id))
    except IntegrityError:
        if created_blob and not AssetVersion.objects.filter(blob_name=blob_name).exists():
            blob_delete(blob_name)
        raise Conflict(
            f"An asset with public ID “{public_id}” already exists.", field="public_id"
        ) from None
    except BaseException:
        if created_blob and not AssetVersion.objects.filter(blob_name=blob_name).exists():
            blob_delete(blob_name)
        raise
    return asset


def rendition_name(version: AssetVersion, spec: str) -> str:
    return f"renditions/{version.asset_id}/v{version.number}/{spec}.webp"


def version_process(*, version_id: int) -> None:
    """Make the missing renditions of a version; safe to run twice or concurrently."""
    with transaction.atomic():
        version = (
            AssetVersion.objects.select_for_update(of=("self",))
            .select_related("asset")
            .filter(pk=version_id)
            .first()
        )
        if version is None:
            log.info("version %s is gone; nothing to process", version_id)
            return
        asset = version.asset
        existing = set(version.renditions.values_list("spec", flat=True))
        try:
            for spec, edge in RENDITION_SPECS.items():
                if spec in existing:
                    continue
                with open_blob(version.blob_name) as fh:
                    data, width, height = render_thumbnail(fh, edge)
                name = rendition_name(version, spec)
                if default_storage.exists(name):
                    default_storage.delete(name)
                stored = default_storage.save(name, ContentFile(data))
                Rendition.objects.get_or_create(
                    version=version,
                    spec=spec,
                    defaults={
                        "file_name": stored,
                        "format": "webp",
                        "width": width,
                        "height": height,
                        "bytes": len(data),
                    },
                )
        except MediaError as exc:
            _mark_failed(asset, version, str(exc))
            return
        except (OSError, SyntaxError, ValueError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            _mark_failed(asset, version, "The file could not be decoded; it may be damaged.")
            log.warning("version %s failed to render: %s", version_id, exc)
            return
        if asset.version == version.number and asset.processing_status != ProcessingStatus.READY:
            Asset.objects.filter(pk=asset.pk).update(
                processing_status=ProcessingStatus.READY, processing_error=""
            )
            audit_record(
                actor=None,
                verb="asset.processed",
                obj=asset,
                data={"version": version.number},
            )


def _mark_failed(asset: Asset, version: AssetVersion, reason: str) -> None:
    if asset.version == version.number:
        Asset.objects.filter(pk=asset.pk).update(
            processing_status=ProcessingStatus.FAILED, processing_error=reason
        )
    audit_record(actor=None, verb="asset.processing_failed", obj=asset, data={"reason": reason})
