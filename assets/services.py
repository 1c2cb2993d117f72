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
from assets.media import RENDITION_SPECS, MediaError, probe_image, render_specs
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

# Segments of letters, digits, "_", "-", "." separated by single "/"; no "." or ".."
# segments, and the first segment cannot look like a delivery transformation (w_100).
PUBLIC_ID_RE = re.compile(r"^(?![a-z]{1,2}_[^/]*/)[A-Za-z0-9][A-Za-z0-9_\-.]*(/[A-Za-z0-9_\-.]+)*$")
FOLDER_NAME_MAX = 255
# A materialized path is indexed (b-tree rows hold at most ~2.7 kB); cap it well below.
FOLDER_PATH_MAX_BYTES = 2000


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
def _clean_folder_name(name) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Enter a folder name.", field="name")
    _no_nul(name, "name", "Folder names")
    if len(name) > FOLDER_NAME_MAX or "/" in name:
        raise ValidationFailed("Folder names have at most 255 characters and no “/”.", field="name")
    return name


def _require_parent_access(actor, parent: Folder | None, action: str) -> None:
    if parent is None:
        if not policy.can_create_top_level_folder(actor):
            raise NotAllowed(f"Only admins {action} at the top level.")
    else:
        _require_level(actor, parent, Level.CONTRIBUTE, action)


def _require_free_name(name: str, parent: Folder | None, exclude: Folder | None = None) -> None:
    siblings = Folder.objects.filter(parent=parent, name__iexact=name)
    if exclude is not None:
        siblings = siblings.exclude(pk=exclude.pk)
    if siblings.exists():
        raise Conflict(f"A folder named “{name}” already exists here.", field="name")


def _require_path_fits(path: str, field: str = "name") -> None:
    if len(path.encode()) > FOLDER_PATH_MAX_BYTES:
        raise ValidationFailed(
            "The folder path would be too long; use shorter names or fewer levels.", field=field
        )


def folder_create(*, actor, name: str, parent: Folder | None) -> Folder:
    name = _clean_folder_name(name)
    _require_parent_access(actor, parent, "create folders")
    _require_free_name(name, parent)
    _require_path_fits(f"{parent.path if parent else ''}/{name}")
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


def folder_rename(*, actor, folder: Folder, name: str) -> Folder:
    """Rename; the materialized paths of the whole subtree change in one UPDATE."""
    name = _clean_folder_name(name)
    _require_level(actor, folder, Level.EDIT, "rename folders")
    if name == folder.name:
        return folder
    _require_free_name(name, folder.parent, exclude=folder)
    old_path = folder.path
    new_path = f"{old_path.rpartition('/')[0]}/{name}"
    _require_path_fits(_longest_path_after(folder, old_path, new_path))
    try:
        with transaction.atomic():
            Folder.all_objects.filter(pk=folder.pk).update(name=name)
            _rewrite_subtree(folder, old_path=old_path, new_path=new_path)
            audit_record(
                actor=actor,
                verb="folder.rename",
                obj=folder,
                data={"from": old_path, "to": new_path},
            )
    except IntegrityError:
        raise Conflict(f"A folder named “{name}” already exists here.", field="name") from None
    folder.refresh_from_db()
    return folder


def folder_move(*, actor, folder: Folder, parent: Folder | None) -> Folder:
    """Move under `parent` (None: top level). Folder and asset arrays change in two UPDATEs."""
    _require_level(actor, folder, Level.EDIT, "move folders")
    _require_parent_access(actor, parent, "move folders")
    if parent is not None and folder.pk in parent.ancestor_ids:
        raise ValidationFailed(
            "A folder cannot move into itself or its sub-folders.", field="parent"
        )
    if folder.parent_id == (parent.pk if parent else None):
        return folder
    _require_free_name(folder.name, parent, exclude=folder)
    old_path = folder.path
    new_path = f"{parent.path if parent else ''}/{folder.name}"
    _require_path_fits(_longest_path_after(folder, old_path, new_path), field="parent")
    old_prefix_len = len(folder.ancestor_ids) - 1
    new_prefix = list(parent.ancestor_ids) if parent else []
    depth_shift = len(new_prefix) - old_prefix_len
    try:
        with transaction.atomic():
            Folder.all_objects.filter(pk=folder.pk).update(parent=parent)
            _rewrite_subtree(
                folder,
                old_path=old_path,
                new_path=new_path,
                old_prefix_len=old_prefix_len,
                new_prefix=new_prefix,
                depth_shift=depth_shift,
            )
            audit_record(
                actor=actor,
                verb="folder.move",
                obj=folder,
                data={"from": old_path, "to": new_path},
            )
    except IntegrityError:
        raise Conflict(
            f"A folder named “{folder.name}” already exists there.", field="parent"
        ) from None
    folder.refresh_from_db()
    return folder


def _longest_path_after(folder: Folder, old_path: str, new_path: str) -> str:
    """The longest path in the subtree once `old_path` becomes `new_path`."""
    from django.db.models.functions import Length

    longest = (
        Folder.all_objects.filter(ancestor_ids__contains=[folder.pk])
        .annotate(n=Length("path"))
        .order_by("-n")
        .values_list("path", flat=True)
        .first()
    ) or old_path
    return new_path + longest[len(old_path) :]


def _rewrite_subtree(
    folder: Folder,
    *,
    old_path: str,
    new_path: str,
    old_prefix_len: int | None = None,
    new_prefix: list[int] | None = None,
    depth_shift: int = 0,
) -> None:
    """Rewrite paths (and, on a move, ancestor arrays) of a subtree; no grant row changes."""
    from django.db import connection

    moved = new_prefix is not None
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE assets_folder
               SET path = %(new_path)s || substr(path, %(cut)s),
                   ancestor_ids = CASE WHEN %(moved)s
                       THEN %(prefix)s::bigint[] || ancestor_ids[%(keep)s:]
                       ELSE ancestor_ids END,
                   depth = depth + %(shift)s
             WHERE ancestor_ids @> ARRAY[%(id)s]::bigint[]
            """,
            {
                "new_path": new_path,
                "cut": len(old_path) + 1,
                "moved": moved,
                "prefix": new_prefix or [],
                "keep": (old_prefix_len or 0) + 1,
                "shift": depth_shift,
                "id": folder.pk,
            },
        )
        if moved:
            cursor.execute(
                """
                UPDATE assets_asset
                   SET ancestors = %(prefix)s::bigint[] || ancestors[%(keep)s:]
                 WHERE ancestors @> ARRAY[%(id)s]::bigint[]
                """,
                {"prefix": new_prefix, "keep": old_prefix_len + 1, "id": folder.pk},
            )


def folder_delete(*, actor, folder: Folder) -> int:
    """Move the folder, its sub-folders and their assets to the trash; returns the asset count."""
    from django.utils import timezone

    _require_level(actor, folder, Level.MANAGE, "delete folders")
    now = timezone.now()
    with transaction.atomic():
        subtree = Folder.objects.filter(ancestor_ids__contains=[folder.pk])
        count = Asset.objects.filter(ancestors__contains=[folder.pk]).update(
            deleted_at=now, deleted_by=actor, deleted_with=folder
        )
        subtree.update(deleted_at=now, deleted_with=folder)
        audit_record(
            actor=actor,
            verb="folder.delete",
            obj=folder,
            data={"path": folder.path, "assets": count},
        )
    return count


# -- sharing -------------------------------------------------------------------------
def folder_share(*, actor, folder: Folder, principal, level: Level):
    """Grant `level` on the folder (and so its subtree). Grants only ever raise a level."""
    from django.contrib.auth.models import Permission

    from accounts.models import FolderGroupGrant, FolderUserGrant
    from assets.selectors import inherited_level

    _require_share_access(actor, folder)
    if level == Level.NONE:
        raise ValidationFailed("Choose a level: view, contribute, edit or manage.", field="level")
    inherited = inherited_level(folder=folder, principal=principal)
    if level < inherited.level:
        raise ValidationFailed(
            f"{_principal_name(principal)} already has {inherited.level.label} access from "
            f"“{policy.access_for(actor).describe_folder(inherited.folder)}”. "
            "A share here can raise that level, not lower it.",
            field="level",
        )
    permission = Permission.objects.get(codename=level.codename, content_type__app_label="assets")
    is_group = _is_group(principal)
    model, field = (FolderGroupGrant, "group") if is_group else (FolderUserGrant, "user")
    with transaction.atomic():
        grant, created = model.objects.select_for_update().get_or_create(
            **{field: principal, "content_object": folder}, defaults={"permission": permission}
        )
        previous = None if created else Level.from_codename(grant.permission.codename)
        if not created and previous != level:
            grant.permission = permission
            grant.save(update_fields=["permission"])
        audit_record(
            actor=actor,
            verb="folder.share",
            obj=folder,
            data={
                "principal": {"type": field, "id": principal.pk},
                "level": level.label,
                "previous": previous.label if previous else None,
            },
        )
        if created:
            from assets.tasks import notify_folder_shared

            args = (folder.pk, field, principal.pk, actor.pk)
            transaction.on_commit(lambda: notify_folder_shared.delay(*args))
    return grant


def folder_unshare(*, actor, folder: Folder, principal) -> bool:
    from accounts.models import FolderGroupGrant, FolderUserGrant

    _require_share_access(actor, folder)
    is_group = _is_group(principal)
    model, field = (FolderGroupGrant, "group") if is_group else (FolderUserGrant, "user")
    with transaction.atomic():
        deleted, _ = model.objects.filter(**{field: principal, "content_object": folder}).delete()
        if deleted:
            audit_record(
                actor=actor,
                verb="folder.unshare",
                obj=folder,
                data={"principal": {"type": field, "id": principal.pk}},
            )
    return bool(deleted)


def _require_share_access(actor, folder: Folder) -> None:
    if policy.access_for(actor).folder_level(folder) < Level.MANAGE:
        raise NotAllowed(f"You need manage access to share “{folder.name}”.")


def _is_group(principal) -> bool:
    from django.contrib.auth.models import Group

    return isinstance(principal, Group)


def _principal_name(principal) -> str:
    return f"The group “{principal.name}”" if _is_group(principal) else principal.email


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
        segments = public_id.split("/")
        if (
            len(public_id) > 255
            or not PUBLIC_ID_RE.match(public_id)
            or any(seg in (".", "..") for seg in segments)
        ):
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

    try:
        with transaction.atomic():
            # One writer per content hash: storing or dropping a blob and inserting the
            # rows that point at it happen under this lock, so a blob is never removed
            # while another upload's row is about to reference it.
            _lock_blob(sha256)
            blob_name, created_blob = blob_put(file, sha256, size=nbytes)
            try:
                with transaction.atomic():
                    asset, version = _asset_rows_create(
                        actor=actor,
                        folder=folder,
                        public_id=public_id,
                        display_name=display_name,
                        filename=filename,
                        facts=facts,
                        sha256=sha256,
                        nbytes=nbytes,
                        blob_name=blob_name,
                        tags=tags,
                    )
            except BaseException:
                if created_blob and not AssetVersion.objects.filter(blob_name=blob_name).exists():
                    blob_delete(blob_name)
                raise
            from assets.tasks import process_version

            version_id = version.pk
            # robust: a broker outage must not turn a committed upload into an error;
            # the stuck-processing sweep sends it again.
            transaction.on_commit(lambda: process_version.delay(version_id), robust=True)
    except IntegrityError:
        raise Conflict(
            f"An asset with public ID “{public_id}” already exists.", field="public_id"
        ) from None
    return asset


def _lock_blob(sha256: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(sha256[:15], 16)])


def _asset_rows_create(
    *, actor, folder, public_id, display_name, filename, facts, sha256, nbytes, blob_name, tags
) -> tuple[Asset, AssetVersion]:
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
    return asset, version


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
            _renditions_make(version, missing=[s for s in RENDITION_SPECS if s not in existing])
        except FileNotFoundError:
            raise  # storage hiccup or a blob still arriving: the task retries
        except MediaError as exc:
            _mark_failed(asset, version, str(exc))
            return
        except Exception as exc:  # any decoder failure is the file's fault, not ours
            log.warning("version %s failed to render: %r", version_id, exc)
            _mark_failed(asset, version, "The file could not be decoded; it may be damaged.")
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


def _renditions_make(version: AssetVersion, *, missing: list[str]) -> None:
    """Decode the original once, largest spec first; smaller specs derive from it."""
    if not missing:
        return
    with open_blob(version.blob_name) as fh:
        renders = render_specs(fh, {spec: RENDITION_SPECS[spec] for spec in missing})
    for spec, (data, width, height) in renders.items():
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


def version_processing_failed(*, version_id: int, reason: str) -> None:
    """The task gave up (retries exhausted): say so instead of processing forever."""
    version = AssetVersion.objects.select_related("asset").filter(pk=version_id).first()
    if version is not None:
        _mark_failed(version.asset, version, reason)


def versions_requeue_stuck(*, older_than_minutes: int = 10, limit: int = 500) -> int:
    """Send again the versions whose asset has been processing too long (lost tasks)."""
    from datetime import timedelta

    from django.utils import timezone

    from assets.tasks import process_version

    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    stuck = (
        AssetVersion.objects.filter(
            asset__processing_status=ProcessingStatus.PROCESSING,
            asset__updated_at__lt=cutoff,
            asset__deleted_at__isnull=True,
        )
        .order_by("id")
        .values_list("id", "asset_id", "number", "asset__version")[:limit]
    )
    count = 0
    for version_id, asset_id, number, current in stuck:
        if number != current:
            continue
        Asset.objects.filter(pk=asset_id).update(updated_at=timezone.now())
        process_version.delay(version_id)
        count += 1
    if count:
        log.info("requeued %s stuck versions", count)
    return count


def _mark_failed(asset: Asset, version: AssetVersion, reason: str) -> None:
    if asset.version == version.number:
        Asset.objects.filter(pk=asset.pk).update(
            processing_status=ProcessingStatus.FAILED, processing_error=reason
        )
    audit_record(actor=None, verb="asset.processing_failed", obj=asset, data={"reason": reason})


def folder_share_notify(
    *, folder_id: int, principal_type: str, principal_id: int, actor_id: int
) -> int:
    """Email the new principal(s) of a share; users may opt out. Returns emails sent."""
    from django.contrib.auth.models import Group
    from django.core.mail import send_mass_mail
    from django.urls import reverse

    from accounts.models import User, UserStatus

    folder = Folder.objects.filter(pk=folder_id).first()
    actor = User.objects.filter(pk=actor_id).first()
    if folder is None:
        return 0
    if principal_type == "group":
        group = Group.objects.filter(pk=principal_id).first()
        recipients = list(group.user_set.all()) if group else []
    else:
        recipients = list(User.objects.filter(pk=principal_id))
    recipients = [
        u
        for u in recipients
        if u.status == UserStatus.ACTIVE
        and getattr(u, "notify_on_share", True)
        and u.pk != actor_id
    ]
    link = settings.DAM_BASE_URL.rstrip("/") + reverse("assets:folder", args=[folder.pk])
    who = (actor.get_full_name() or actor.email) if actor else "An administrator"
    messages = [
        (
            f"“{folder.name}” was shared with you",
            f"Hello {u.get_short_name()},\n\n{who} shared the folder “{folder.path}” with "
            f"you.\n\nOpen it: {link}\n\nYou can turn these emails off in your profile.\n",
            settings.DEFAULT_FROM_EMAIL,
            [u.email],
        )
        for u in recipients
    ]
    return send_mass_mail(messages, fail_silently=False) if messages else 0
