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
from django.db import IntegrityError, connection, transaction

from accounts import policy
from accounts.policy import Level
from assets.media import RENDITION_SPECS, MediaError, extract_facts, probe, render_specs
from assets.models import (
    Asset,
    AssetType,
    AssetVersion,
    Folder,
    ModerationMode,
    ModerationStatus,
    ProcessingStatus,
    Rendition,
)
from dam.errors import (  # callers use services.ValidationFailed and friends
    Conflict,
    Gone,
    NotAllowed,
    NotFound,
    ServiceError,
    TooLarge,
    ValidationFailed,
)
from dam.services import audit_record
from dam.storage import blob_delete, blob_put, open_blob, sha256_of
from metadata import selectors as metadata_selectors
from metadata import services as metadata_services

log = logging.getLogger(__name__)

# Segments of letters, digits, "_", "-", "." separated by single "/"; no "." or ".."
# segments, and the first segment cannot look like a delivery transformation (w_100).
PUBLIC_ID_RE = re.compile(r"^(?![a-z]{1,2}_[^/]*/)[A-Za-z0-9][A-Za-z0-9_\-.]*(/[A-Za-z0-9_\-.]+)*$")
FOLDER_NAME_MAX = 255
# A materialized path is indexed (b-tree rows hold at most ~2.7 kB); cap it well below.
FOLDER_PATH_MAX_BYTES = 2000


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
            if parent is not None:
                # The parent's place in the tree is read under the tree lock (shared).
                tree_lock_shared()
                parent = Folder.objects.filter(pk=parent.pk).first()
                if parent is None:
                    raise Conflict("The parent folder was deleted meanwhile.")
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


TREE_LOCK_KEY = 0x7EE  # one advisory lock serialises changes to the folder tree


def _tree_locked(func):
    """Run a tree change under the tree lock on fresh rows.

    Two moves at once (A into B, B into A) or a rename during an ancestor's move would
    otherwise compute paths and ancestor arrays from stale rows.
    """
    import functools

    @functools.wraps(func)
    def wrapper(*, actor, folder: Folder, **kwargs):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TREE_LOCK_KEY])
            fresh = Folder.objects.filter(pk=folder.pk).first()
            if fresh is None:
                raise Conflict("The folder was deleted or moved meanwhile; reload and retry.")
            if kwargs.get("parent") is not None:
                parent = Folder.objects.filter(pk=kwargs["parent"].pk).first()
                if parent is None:
                    raise Conflict("The destination was deleted meanwhile; choose another.")
                kwargs["parent"] = parent
            return func(actor=actor, folder=fresh, **kwargs)

    return wrapper


def tree_lock_shared() -> None:
    """Writers that depend on a folder's place in the tree (uploads) take this."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [TREE_LOCK_KEY])


@_tree_locked
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


@_tree_locked
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


@_tree_locked
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
            transaction.on_commit(lambda: notify_folder_shared.delay(*args), robust=True)
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


def _accept_file(file: IO[bytes], filename: str):
    """Probe the upload from its content; returns (probe, the file object to store).

    A sanitized SVG is stored as its re-serialized bytes, so the hash and size are those
    of what we checked, not of the upload.
    """
    result = probe(file, filename)
    if result.replacement is not None:
        file = ContentFile(result.replacement, name=filename)
    return result, file


def asset_upload(
    *,
    actor,
    file: IO[bytes],
    filename: str,
    folder: Folder | None,
    display_name: str | None = None,
    public_id: str | None = None,
    tags=None,
    preset=None,
    metadata=None,
    context=None,
) -> Asset:
    """Accept one file into a folder: check it, store the original, record it, process later.

    `metadata` ({field external ID: value}) needs edit level on the folder; with or without
    it, a new asset gets every field's default and must satisfy the rules (mandatory
    fields filled, values allowed) before anything is stored. `context` is the asset's
    contextual key/values.

    With a `preset` (an UploadPreset), its folder, naming, tags, access mode and moderation
    apply, and an existing public ID becomes a new version when the preset allows overwrite
    and the actor has edit level on that asset (`asset.overwritten` is then True).
    """
    folder = _upload_folder(actor, folder, preset)
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
        existing = _overwrite_target(actor, public_id, preset)
    else:
        public_id, existing = _preset_public_id(actor, filename, preset)
    tags = _preset_tags(preset, _clean_tags(tags))
    context = clean_context(context) if context is not None else None
    schema = metadata_selectors.schema_get()
    new_metadata = _upload_metadata(
        actor=actor, folder=folder, existing=existing, metadata=metadata, schema=schema
    )
    filename = os.path.basename((filename or "upload").replace("\x00", ""))[:255] or "upload"
    display_name = _no_nul((display_name or "").strip(), "display_name", "The display name")
    display_name_given = bool(display_name)
    display_name = display_name[:255] or os.path.splitext(filename)[0] or filename

    try:
        facts, file = _accept_file(file, filename)
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
                    if existing is not None:  # overwrite: a new version (presets section)
                        asset, version, released = _version_rows_create(
                            actor=actor,
                            asset=existing,
                            preset=preset,
                            display_name=display_name if display_name_given else None,
                            filename=filename,
                            facts=facts,
                            sha256=sha256,
                            nbytes=nbytes,
                            blob_name=blob_name,
                            tags=tags,
                            metadata=metadata,
                            context=context,
                            schema=schema,
                        )
                    else:
                        released = None
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
                            metadata=new_metadata.values,
                            context=context or {},
                        )
                        _preset_stamp(asset, preset)
            except BaseException:
                if created_blob and not AssetVersion.objects.filter(blob_name=blob_name).exists():
                    blob_delete(blob_name)
                raise
            from assets.tasks import process_version

            version_id = version.pk
            # robust: a broker outage must not turn a committed upload into an error;
            # the stuck-processing sweep sends it again.
            transaction.on_commit(lambda: process_version.delay(version_id), robust=True)
            _release_after_commit(released)
            if existing is None:  # counted with the upload (rolls back with it)
                from dam import usage

                usage.bump(usage.Kind.UPLOAD, user_id=actor.pk)
    except IntegrityError:
        raise Conflict(
            f"An asset with public ID “{public_id}” already exists.", field="public_id"
        ) from None
    asset.overwritten = existing is not None
    return asset


def _lock_blob(sha256: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(sha256[:15], 16)])


def _upload_metadata(*, actor, folder, existing, metadata, schema):
    """The metadata a new asset starts with (the overwrite path resolves its own, under the
    asset's lock); refused before anything is written."""
    if metadata not in (None, {}) and existing is None:
        require_metadata_access(actor, folder)
    if existing is not None:
        if metadata not in (None, {}):
            metadata_services.clean_changes(schema, metadata, held=existing.metadata)
        return None
    return metadata_services.metadata_resolve(
        schema=schema, current={}, changes=metadata, creating=True
    )


def require_metadata_access(actor, folder: Folder) -> None:
    """Setting metadata is editing: edit level on the folder."""
    if policy.access_for(actor).folder_level(folder) < Level.EDIT:
        raise NotAllowed(f"You need edit access to set metadata in “{folder.name}”.")


def upload_metadata_check(*, actor, folder: Folder, metadata) -> dict:
    """What an upload with these values would store (for the upload dialog and resumable
    sessions, before any bytes are sent); raises like `asset_upload` would."""
    _require_level(actor, folder, Level.CONTRIBUTE, "upload")
    if metadata not in (None, {}):
        require_metadata_access(actor, folder)
    result = metadata_services.metadata_resolve(
        schema=metadata_selectors.schema_get(), current={}, changes=metadata, creating=True
    )
    return result.values


def metadata_shape_check(metadata) -> None:
    """Known fields and well-formed values, whatever asset they will land on."""
    metadata_services.clean_changes(metadata_selectors.schema_get(), metadata)


def _asset_rows_create(
    *,
    actor,
    folder,
    public_id,
    display_name,
    filename,
    facts,
    sha256,
    nbytes,
    blob_name,
    tags,
    metadata=None,
    context=None,
) -> tuple[Asset, AssetVersion]:
    # The folder's place in the tree is read under the shared tree lock: a concurrent
    # move or delete cannot leave this asset with stale ancestors or in a trashed folder.
    tree_lock_shared()
    folder = Folder.objects.filter(pk=folder.pk).first()
    if folder is None:
        raise Conflict("The folder was deleted meanwhile; choose another.", field="folder")
    asset = Asset.objects.create(
        public_id=public_id,
        display_name=display_name,
        folder=folder,
        ancestors=list(folder.ancestor_ids),
        type=facts.type,
        format=facts.format,
        mime_type=facts.mime_type,
        original_filename=filename,
        bytes=nbytes,
        width=facts.width,
        height=facts.height,
        duration=facts.duration,
        pages=facts.pages,
        tags=tags,
        metadata=metadata or {},
        context=context or {},
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
        duration=facts.duration,
        pages=facts.pages,
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
            _renditions_make(
                version,
                missing=[s for s in RENDITION_SPECS if s not in existing],
                facts_missing=not version.facts,
            )
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
            _auto_moderate_later(asset, version.number)


def _auto_moderate_later(asset: Asset, number: int) -> None:
    """A pending upload whose preset runs automatic checks is checked once processed."""
    if asset.moderation_status != ModerationStatus.PENDING or asset.preset_id is None:
        return
    from moderation.tasks import auto_moderate

    args = (asset.pk, number)
    transaction.on_commit(lambda: auto_moderate.delay(*args), robust=True)


def _renditions_make(
    version: AssetVersion, *, missing: list[str], facts_missing: bool = False
) -> None:
    """Re-probe the stored original, render the missing specs (largest first, one decode)
    and record its facts once; a rerun with everything present does nothing."""
    if not missing and not facts_missing:
        return
    with open_blob(version.blob_name) as fh:
        found = probe(fh, version.original_filename)
        renders = render_specs(fh, found, {spec: RENDITION_SPECS[spec] for spec in missing})
        facts = extract_facts(fh, found) if facts_missing else None
    for spec, (data, width, height) in renders.items():
        name = rendition_name(version, spec)
        if default_storage.exists(name):
            default_storage.delete(name)
        stored = default_storage.save(name, ContentFile(data))
        _rendition, made = Rendition.objects.get_or_create(
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
        if made:
            from dam import usage

            usage.bump(usage.Kind.RENDITION, object_id=version.asset_id)
    if facts is not None:
        fields = {"facts": facts, "pages": found.pages, "duration": found.duration}
        AssetVersion.objects.filter(pk=version.pk).update(**fields)
        Asset.objects.filter(pk=version.asset_id, version=version.number).update(
            **fields, phash=facts.get("phash", "")
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


def share_recipients(principal_type: str, principal_id: int, actor_id: int) -> list:
    """Who to email about a new share (of a folder or a collection): the user, or the
    group's members, if active and not opted out, never the one who shared."""
    from django.contrib.auth.models import Group

    from accounts.models import User, UserStatus

    if principal_type == "group":
        group = Group.objects.filter(pk=principal_id).first()
        recipients = list(group.user_set.all()) if group else []
    else:
        recipients = list(User.objects.filter(pk=principal_id))
    return [
        u
        for u in recipients
        if u.status == UserStatus.ACTIVE
        and getattr(u, "notify_on_share", True)
        and u.pk != actor_id
    ]


def folder_share_notify(
    *, folder_id: int, principal_type: str, principal_id: int, actor_id: int
) -> int:
    """Email the new principal(s) of a share; users may opt out. Returns emails sent."""
    from django.core.mail import send_mass_mail
    from django.urls import reverse

    from accounts.models import User

    folder = Folder.objects.filter(pk=folder_id).first()
    actor = User.objects.filter(pk=actor_id).first()
    if folder is None:
        return 0
    recipients = share_recipients(principal_type, principal_id, actor_id)
    link = settings.DAM_BASE_URL.rstrip("/") + reverse("assets:folder", args=[folder.pk])
    who = (actor.get_full_name() or actor.email) if actor else "An administrator"
    messages = [
        (
            f"“{folder.name}” was shared with you",
            f"Hello {u.get_short_name()},\n\n{who} shared the folder "
            f"“{policy.FolderAccess(u).visible_path(folder)}” with "
            f"you.\n\nOpen it: {link}\n\nYou can turn these emails off in your profile.\n",
            settings.DEFAULT_FROM_EMAIL,
            [u.email],
        )
        for u in recipients
    ]
    return send_mass_mail(messages, fail_silently=False) if messages else 0


# == trash, purge, sweeper, comments, edits, bulk (issue 4: trash & bulk) ============
# Restore semantics: an asset (or folder) whose parent folder is itself in the trash is
# refused with a message naming the folder to restore first; restoring never revives a
# folder chain implicitly, so a restore brings back exactly what the user chose.
TAG_LIMIT = 100
CONTEXT_MAX_KEYS = 50
CONTEXT_KEY_MAX = 100
CONTEXT_VALUE_MAX = 1000
COMMENT_MAX = 5000
BULK_MAX_IDS = 500
PURGE_BATCH = 200


def _tree_lock_exclusive() -> None:
    """Restoring or purging a trashed subtree must not race a move or delete around it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TREE_LOCK_KEY])


def _require_asset_level(actor, asset: Asset, minimum: Level, action: str) -> None:
    level = policy.access_for(actor).asset_level(asset)
    if level < minimum:
        raise NotAllowed(f"You need {minimum.label} access to {action}.")


def _require_live_parent(folder: Folder | None) -> None:
    """Refuse to restore into a trashed folder; name the folder to restore first."""
    if folder is None:
        return
    trashed = (
        Folder.all_objects.filter(pk__in=folder.ancestor_ids, deleted_at__isnull=False)
        .order_by("depth")
        .first()
    )
    if trashed is not None:
        root = trashed.deleted_with if trashed.deleted_with_id else trashed
        raise Conflict(
            f"The folder “{root.path}” is in the trash; restore it first.", field="folder"
        )


def asset_delete(*, actor, asset: Asset) -> Asset:
    """Move one asset to the trash (manage level); versions, grants and files stay."""
    from django.utils import timezone

    _require_asset_level(actor, asset, Level.MANAGE, "delete this asset")
    with transaction.atomic():
        updated = Asset.objects.filter(pk=asset.pk).update(
            deleted_at=timezone.now(), deleted_by=actor, deleted_with=None
        )
        if updated:
            audit_record(actor=actor, verb="asset.delete", obj=asset, data={})
    asset.refresh_from_db()
    return asset


def _trashed_asset_level(actor, asset: Asset) -> Level:
    return policy.access_for(actor).asset_level(asset)


def asset_restore(*, actor, asset: Asset) -> Asset:
    """Bring a trashed asset back where it was (manage level or an admin role)."""
    _require_asset_level(actor, asset, Level.MANAGE, "restore this asset")
    if asset.deleted_at is None:
        return asset
    with transaction.atomic():
        tree_lock_shared()  # the folder chain checked below cannot change under us
        if asset.deleted_with_id is not None:
            folder = Folder.all_objects.filter(pk=asset.deleted_with_id).first()
            if folder is not None and folder.deleted_at is not None:
                raise Conflict(
                    f"This asset was deleted with the folder “{folder.path}”; restore the folder.",
                    field="folder",
                )
        _require_live_parent(Folder.all_objects.get(pk=asset.folder_id))
        Asset.all_objects.filter(pk=asset.pk).update(
            deleted_at=None, deleted_by=None, deleted_with=None
        )
        audit_record(actor=actor, verb="asset.restore", obj=asset, data={})
    asset.refresh_from_db()
    return asset


def folder_restore(*, actor, folder: Folder) -> int:
    """Restore a folder deleted by folder_delete: its subtree and the assets deleted with it
    (not assets deleted on their own before). Returns the number of assets restored."""
    if policy.access_for(actor).folder_level(folder) < Level.MANAGE:
        raise NotAllowed("You need manage access to restore this folder.")
    with transaction.atomic():
        _tree_lock_exclusive()
        folder = Folder.all_objects.get(pk=folder.pk)
        return _folder_restore_locked(actor=actor, folder=folder)


def _folder_restore_locked(*, actor, folder: Folder) -> int:
    if folder.deleted_at is None:
        return 0
    if folder.deleted_with_id not in (None, folder.pk):
        root = Folder.all_objects.filter(pk=folder.deleted_with_id).first()
        where = root.path if root else "a parent folder"
        raise Conflict(
            f"This folder was deleted with “{where}”; restore that folder.", field="folder"
        )
    parent = Folder.all_objects.filter(pk=folder.parent_id).first()
    _require_live_parent(parent)
    if Folder.objects.filter(parent=folder.parent_id, name__iexact=folder.name).exists():
        raise Conflict(
            f"A folder named “{folder.name}” exists there now; rename it first.", field="name"
        )
    try:
        with transaction.atomic():
            Folder.all_objects.filter(deleted_with=folder).update(
                deleted_at=None, deleted_with=None
            )
            count = Asset.all_objects.filter(deleted_with=folder).update(
                deleted_at=None, deleted_by=None, deleted_with=None
            )
            audit_record(
                actor=actor,
                verb="folder.restore",
                obj=folder,
                data={"path": folder.path, "assets": count},
            )
    except IntegrityError:
        raise Conflict(
            f"A folder named “{folder.name}” exists there now; rename it first.", field="name"
        ) from None
    return count


def _files_of(asset_ids) -> tuple[dict[str, str], list[str]]:
    """{sha256: blob_name} of the assets' versions and the names of their rendition files."""
    blobs = dict(
        AssetVersion.objects.filter(asset_id__in=asset_ids).values_list("sha256", "blob_name")
    )
    renditions = list(
        Rendition.objects.filter(version__asset_id__in=asset_ids).values_list(
            "file_name", flat=True
        )
    )
    return blobs, renditions


def _blob_needed(name: str) -> bool:
    """A version whose file was released ("automatic backup" off) no longer needs it."""
    return AssetVersion.objects.filter(blob_name=name, blob_released_at__isnull=True).exists()


def blobs_release(*, blobs: dict[str, str], renditions: list[str]) -> int:
    """Delete originals no version references any more (under the hash lock) and the given
    rendition files. Run after the purge commits; safe to run twice. Returns blobs deleted."""
    deleted = 0
    for sha256, name in blobs.items():
        try:
            with transaction.atomic():
                _lock_blob(sha256)
                if not _blob_needed(name):
                    blob_delete(name)
                    deleted += 1
        except Exception:  # the orphan sweeper retries what fails here
            log.exception("could not release blob %s", name)
    for name in renditions:
        try:
            blob_delete(name)
        except Exception:
            log.exception("could not delete rendition %s", name)
    return deleted


def _purge_rows(asset_ids: list[int]) -> tuple[dict[str, str], list[str]]:
    blobs, renditions = _files_of(asset_ids)
    # Comments and versions cascade; renditions cascade from versions.
    Asset.all_objects.filter(pk__in=asset_ids).delete()
    return blobs, renditions


def _release_on_commit(blobs: dict[str, str], renditions: list[str]) -> None:
    transaction.on_commit(lambda: blobs_release(blobs=blobs, renditions=renditions), robust=True)


def asset_purge(*, actor, asset: Asset) -> None:
    """Delete a trashed asset for good; files go only after the commit, if unreferenced."""
    _require_asset_level(actor, asset, Level.MANAGE, "delete this asset forever")
    if asset.deleted_at is None:
        raise ValidationFailed("Only assets in the trash can be deleted forever.")
    with transaction.atomic():
        blobs, renditions = _purge_rows([asset.pk])
        audit_record(
            actor=actor,
            verb="asset.purge",
            obj=None,
            data={"asset": asset.pk, "public_id": asset.public_id},
        )
        _release_on_commit(blobs, renditions)


def folder_purge(*, actor, folder: Folder) -> int:
    """Delete a trashed folder's subtree and every trashed asset in it; returns assets."""
    if policy.access_for(actor).folder_level(folder) < Level.MANAGE:
        raise NotAllowed("You need manage access to delete this folder forever.")
    with transaction.atomic():
        _tree_lock_exclusive()
        folder = Folder.all_objects.get(pk=folder.pk)
        if folder.deleted_at is None or folder.deleted_with_id not in (None, folder.pk):
            raise ValidationFailed("Only folders deleted from the library can be deleted forever.")
        count = _folder_purge_rows(folder)
        audit_record(
            actor=actor,
            verb="folder.purge",
            obj=None,
            data={"folder": folder.pk, "path": folder.path, "assets": count},
        )
    return count


def _folder_purge_rows(folder: Folder) -> int:
    from django.db.models import Q

    from assets.models import UploadPreset

    asset_ids = list(
        Asset.all_objects.filter(ancestors__contains=[folder.pk]).values_list("pk", flat=True)
    )
    blobs, renditions = _purge_rows(asset_ids)
    subtree = list(
        Folder.all_objects.filter(ancestor_ids__contains=[folder.pk])
        .order_by("-depth")
        .values_list("pk", flat=True)
    )
    UploadPreset.objects.filter(folder_id__in=subtree).update(folder=None)
    Folder.all_objects.filter(Q(deleted_with_id__in=subtree)).update(deleted_with=None)
    # Children before parents: `parent` protects.
    for pk in subtree:
        Folder.all_objects.filter(pk=pk).delete()
    _release_on_commit(blobs, renditions)
    return len(asset_ids)


def trash_purge_expired(*, batch: int = PURGE_BATCH, now=None) -> dict[str, int]:
    """Purge trash older than the retention preference, in batches; returns counts."""
    from datetime import timedelta

    from django.db.models import F
    from django.utils import timezone

    from dam.preferences import preferences_get

    days = preferences_get().trash_retention_days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    counts = {"assets": 0, "folders": 0}
    while True:
        roots = list(
            Folder.all_objects.filter(deleted_at__lt=cutoff, deleted_with_id=F("pk"))
            .order_by("id")
            .values_list("pk", flat=True)[:batch]
        )
        if not roots:
            break
        for pk in roots:
            with transaction.atomic():
                _tree_lock_exclusive()
                folder = Folder.all_objects.filter(pk=pk, deleted_at__isnull=False).first()
                if folder is None:
                    continue
                counts["assets"] += _folder_purge_rows(folder)
                counts["folders"] += 1
                audit_record(
                    actor=None,
                    verb="folder.purge",
                    data={"folder": pk, "path": folder.path, "reason": "retention"},
                )
    while True:
        ids = list(
            Asset.all_objects.filter(deleted_at__lt=cutoff)
            .order_by("id")
            .values_list("pk", flat=True)[:batch]
        )
        if not ids:
            break
        with transaction.atomic():
            locked = list(
                Asset.all_objects.select_for_update(skip_locked=True)
                .filter(pk__in=ids, deleted_at__lt=cutoff)
                .values_list("pk", flat=True)
            )
            if not locked:
                break
            blobs, renditions = _purge_rows(locked)
            audit_record(
                actor=None,
                verb="asset.purge",
                data={"assets": locked, "reason": "retention"},
            )
            _release_on_commit(blobs, renditions)
        counts["assets"] += len(locked)
    log.info(
        "trash purge (retention %s days): %s assets, %s folders",
        days,
        counts["assets"],
        counts["folders"],
    )
    return counts


def _walk_storage(prefix: str):
    """Every file name under `prefix` in storage, depth first (listdir per directory)."""
    try:
        dirs, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in sorted(files):
        yield f"{prefix}/{name}"
    for sub in sorted(dirs):
        yield from _walk_storage(f"{prefix}/{sub}")


def _batched(iterable, size: int):
    batch: list = []
    for item in iterable:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _older_than(name: str, cutoff) -> bool:
    try:
        return default_storage.get_modified_time(name) < cutoff
    except (FileNotFoundError, OSError, NotImplementedError):
        return False


def orphans_sweep(*, grace_hours: float = 24, batch: int = 500, now=None) -> dict[str, int]:
    """Delete originals and renditions no row references, older than the grace period
    (a fresh blob may belong to an upload whose rows are not committed yet)."""
    from datetime import timedelta

    from django.utils import timezone

    cutoff = (now or timezone.now()) - timedelta(hours=grace_hours)
    counts = {"originals": 0, "renditions": 0, "checked": 0}
    for names in _batched(_walk_storage("originals"), batch):
        counts["checked"] += len(names)
        known = set(
            AssetVersion.objects.filter(
                blob_name__in=names, blob_released_at__isnull=True
            ).values_list("blob_name", flat=True)
        )
        for name in names:
            if name in known or not _older_than(name, cutoff):
                continue
            sha256 = name.rsplit("/", 1)[-1]
            if not re.fullmatch(r"[0-9a-f]{64}", sha256):
                continue  # not ours: never delete what we cannot name
            with transaction.atomic():
                _lock_blob(sha256)
                if not _blob_needed(name):
                    blob_delete(name)
                    counts["originals"] += 1
    for names in _batched(_walk_storage("renditions"), batch):
        counts["checked"] += len(names)
        known = set(
            Rendition.objects.filter(file_name__in=names).values_list("file_name", flat=True)
        )
        for name in names:
            if name not in known and _older_than(name, cutoff):
                blob_delete(name)
                counts["renditions"] += 1
    log.info(
        "orphan sweep: checked %s files, deleted %s originals and %s renditions",
        counts["checked"],
        counts["originals"],
        counts["renditions"],
    )
    return counts


# -- edits --------------------------------------------------------------------------
def clean_context(context) -> dict[str, str]:
    if not isinstance(context, dict):
        raise ValidationFailed("Context is an object of keys and text values.", field="context")
    if len(context) > CONTEXT_MAX_KEYS:
        raise ValidationFailed(f"Context has at most {CONTEXT_MAX_KEYS} keys.", field="context")
    cleaned: dict[str, str] = {}
    for key, value in context.items():
        key = str(key).strip()
        if not key or len(key) > CONTEXT_KEY_MAX or not re.fullmatch(r"[\w.\-]+", key):
            raise ValidationFailed(
                f"Context keys use letters, digits, “_”, “-” and “.” "
                f"(1 to {CONTEXT_KEY_MAX} characters).",
                field="context",
            )
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationFailed(f"The context value of “{key}” must be text.", field="context")
        value = str(value)
        if len(value) > CONTEXT_VALUE_MAX:
            raise ValidationFailed(
                f"Context values have at most {CONTEXT_VALUE_MAX} characters.", field="context"
            )
        cleaned[key] = _no_nul(value, "context", "Context values")
    return cleaned


def _clean_display_name(name) -> str:
    name = _no_nul(str(name or "").strip(), "display_name", "The display name")
    if not name:
        raise ValidationFailed("Enter a display name.", field="display_name")
    if len(name) > 255:
        raise ValidationFailed("Display names have at most 255 characters.", field="display_name")
    return name


_UNSET = object()


ACCESS_YEARS = (1970, 9000)  # public windows and expiries fall between these years


def _clean_access_times(asset, **given) -> dict:
    """The public window and expiry that were passed (None clears one), checked: aware
    datetimes between 1970 and 9000 (UTC; PostgreSQL stores more than Python reads back),
    and a window that ends after it starts."""
    from datetime import UTC, datetime

    out = {}
    for field, value in given.items():
        if value is _UNSET:
            continue
        if value is not None:
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise ValidationFailed(f"{field} is a date and time with a time zone.", field=field)
            try:
                value = value.astimezone(UTC)
            except (OverflowError, ValueError):
                value = None
            if value is None or not ACCESS_YEARS[0] <= value.year <= ACCESS_YEARS[1]:
                raise ValidationFailed(
                    f"{field} is a date between {ACCESS_YEARS[0]} and {ACCESS_YEARS[1]}.",
                    field=field,
                )
        out[field] = value
    start = out.get("public_from", asset.public_from)
    end = out.get("public_until", asset.public_until)
    if start is not None and end is not None and end <= start:
        raise ValidationFailed("The public window ends after it starts.", field="public_until")
    return out


def asset_update(
    *,
    actor,
    asset: Asset,
    display_name=_UNSET,
    tags=_UNSET,
    context=_UNSET,
    access_mode=_UNSET,
    metadata=_UNSET,
    public_from=_UNSET,
    public_until=_UNSET,
    expires_at=_UNSET,
    schema=None,
) -> Asset:
    """Change the asset's own fields (edit level); only what was passed changes.

    `metadata` holds the fields to change ({external ID: value}, None clears one); the
    rules engine checks the result, and values that no longer apply because of the
    change are cleared: their external IDs are left in `asset.metadata_cleared`.
    """
    from assets.models import AccessMode

    _require_asset_level(actor, asset, Level.EDIT, "edit this asset")
    changes: dict = {}
    if display_name is not _UNSET:
        changes["display_name"] = _clean_display_name(display_name)
    if tags is not _UNSET:
        cleaned = _clean_tags(tags)
        if len(cleaned) > TAG_LIMIT:
            raise ValidationFailed(f"An asset has at most {TAG_LIMIT} tags.", field="tags")
        changes["tags"] = cleaned
    if context is not _UNSET:
        changes["context"] = clean_context(context or {})
    if access_mode is not _UNSET:
        if access_mode not in AccessMode.values:
            raise ValidationFailed("Access mode is public or restricted.", field="access_mode")
        changes["access_mode"] = access_mode
    changes.update(
        _clean_access_times(
            asset, public_from=public_from, public_until=public_until, expires_at=expires_at
        )
    )
    asset.metadata_cleared = []
    with transaction.atomic():
        if metadata is not _UNSET:
            # Read the values under the row lock: two edits of different fields both stay.
            locked = Asset.all_objects.select_for_update(of=("self",)).get(pk=asset.pk)
            asset.metadata = locked.metadata
            result = metadata_services.metadata_resolve(
                schema=schema or metadata_selectors.schema_get(),
                current=locked.metadata,
                changes=metadata or {},
                creating=False,
            )
            changes["metadata"] = result.values
            asset.metadata_cleared = result.cleared
        changes = {k: v for k, v in changes.items() if getattr(asset, k) != v}
        if not changes:
            return asset
        access = {"access_mode", "public_from", "public_until", "expires_at"} & set(changes)
        if access and not policy.can_use_delivery_urls(actor):
            raise NotAllowed("Changing access control needs the delivery-URL permission.")
        before = {k: getattr(asset, k) for k in changes}
        after = dict(changes)
        if "metadata" in changes:
            before["metadata"], after["metadata"] = _metadata_diff(
                before["metadata"], changes["metadata"]
            )
        for field, value in changes.items():
            setattr(asset, field, value)
        asset.save(update_fields=[*changes, "updated_at"])
        for values in (before, after):  # times as text in the audit log's JSON
            for key in ("public_from", "public_until", "expires_at"):
                if values.get(key) is not None:
                    values[key] = values[key].isoformat()
        data = {"before": before, "after": after}
        if asset.metadata_cleared:
            data["metadata_cleared"] = asset.metadata_cleared
        audit_record(actor=actor, verb="asset.update", obj=asset, data=data)
    return asset


def _metadata_diff(old: dict, new: dict) -> tuple[dict, dict]:
    """Only the keys that changed (None: absent), so the audit log stays small."""
    keys = [k for k in {**old, **new} if old.get(k) != new.get(k)]
    return {k: old.get(k) for k in keys}, {k: new.get(k) for k in keys}


def asset_move(*, actor, asset: Asset, folder: Folder) -> Asset:
    """Move to another folder: edit on the source, contribute on the target."""
    _require_asset_level(actor, asset, Level.EDIT, "move this asset")
    _require_level(actor, folder, Level.CONTRIBUTE, "move assets")
    if folder.pk == asset.folder_id:
        return asset
    with transaction.atomic():
        tree_lock_shared()  # ancestors come from a row no folder move can change now
        folder = Folder.objects.filter(pk=folder.pk).first()
        if folder is None:
            raise Conflict("The destination was deleted meanwhile; choose another.")
        source = asset.folder_id
        asset.folder = folder
        asset.ancestors = list(folder.ancestor_ids)
        asset.save(update_fields=["folder", "ancestors", "updated_at"])
        audit_record(
            actor=actor, verb="asset.move", obj=asset, data={"from": source, "to": folder.pk}
        )
    return asset


def asset_tags_change(*, actor, asset: Asset, add=(), remove=()) -> Asset:
    remove_set = set(_clean_tags(remove))
    tags = [t for t in asset.tags if t not in remove_set]
    tags += [t for t in _clean_tags(add) if t not in tags]
    return asset_update(actor=actor, asset=asset, tags=tags)


# -- comments -----------------------------------------------------------------------
def comment_create(*, actor, asset: Asset, body: str):
    from assets.models import Comment

    _require_asset_level(actor, asset, Level.VIEW, "comment on this asset")
    body = _no_nul(str(body or "").strip(), "body", "Comments")
    if not body:
        raise ValidationFailed("Write a comment first.", field="body")
    if len(body) > COMMENT_MAX:
        raise ValidationFailed(f"Comments have at most {COMMENT_MAX:,} characters.", field="body")
    with transaction.atomic():
        comment = Comment.objects.create(asset=asset, author=actor, body=body)
        audit_record(actor=actor, verb="asset.comment", obj=asset, data={"comment": comment.pk})
    return comment


# -- bulk ---------------------------------------------------------------------------
BULK_ACTIONS = ("add_tags", "remove_tags", "set_metadata", "move", "delete", "set_access")


def assets_bulk(
    *,
    actor,
    ids,
    action: str,
    tags=None,
    folder: Folder | None = None,
    metadata=None,
    access_mode=None,
) -> dict:
    """Apply one action to many assets, each checked by the policy in its own transaction.

    Invisible and missing ids fail alike ("Not found."). `set_metadata` changes the fields
    in `metadata` on each asset through the rules engine; values that stop applying
    because of the change are cleared and listed in `cleared` ({id: [external IDs]}).
    """
    from django.http import Http404

    if action not in BULK_ACTIONS:
        raise ValidationFailed(f"action is one of {', '.join(BULK_ACTIONS)}.", field="action")
    ids = list(dict.fromkeys(ids or []))
    if not ids:
        raise ValidationFailed("Choose at least one asset.", field="ids")
    if len(ids) > BULK_MAX_IDS:
        raise ValidationFailed(f"At most {BULK_MAX_IDS} assets at a time.", field="ids")
    if action in ("add_tags", "remove_tags") and not _clean_tags(tags):
        raise ValidationFailed("Enter at least one tag.", field="tags")
    if action == "move" and folder is None:
        raise ValidationFailed("Choose a destination folder.", field="folder")
    if action == "set_access":
        from assets.models import AccessMode

        if access_mode not in AccessMode.values:
            raise ValidationFailed("access_mode is public or restricted.", field="access_mode")
        if not policy.can_use_delivery_urls(actor):
            raise NotAllowed("Changing access control needs the delivery-URL permission.")
    schema = None
    if action == "set_metadata":
        schema = metadata_selectors.schema_get()
        if not isinstance(metadata, dict) or not metadata:
            raise ValidationFailed("Choose at least one field to change.", field="metadata")
        # Unknown fields and malformed values refuse the whole request, before any asset.
        metadata_services.clean_changes(schema, metadata)
    done: list[int] = []
    failed: dict[str, str] = {}
    cleared: dict[str, list[str]] = {}
    for asset_id in ids:
        try:
            asset = policy.get_asset_or_404(actor, asset_id)
            with transaction.atomic():
                asset = Asset.objects.select_for_update().get(pk=asset.pk)
                if action == "add_tags":
                    asset_tags_change(actor=actor, asset=asset, add=tags)
                elif action == "remove_tags":
                    asset_tags_change(actor=actor, asset=asset, remove=tags)
                elif action == "move":
                    asset_move(actor=actor, asset=asset, folder=folder)
                elif action == "delete":
                    asset_delete(actor=actor, asset=asset)
                elif action == "set_access":
                    asset_update(actor=actor, asset=asset, access_mode=access_mode)
                elif action == "set_metadata":
                    asset_update(actor=actor, asset=asset, metadata=metadata, schema=schema)
                    if asset.metadata_cleared:
                        cleared[str(asset.pk)] = asset.metadata_cleared
            done.append(asset.pk)
        except (Http404, Asset.DoesNotExist):
            failed[str(asset_id)] = "Not found."
        except policy.PermissionDeniedForLevel as exc:
            failed[str(asset_id)] = str(exc)
        except ServiceError as exc:
            failed[str(asset_id)] = exc.message
    return {"done": done, "failed": failed, "cleared": cleared}


# == upload presets, overwrite, versions (issue 4: presets & versions) ==============
# A preset decides how an upload is named, placed, tagged, protected and moderated.
# Overwrite makes a new AssetVersion; a restore makes a new version that points at an
# old blob (no copy). With "automatic backup" off, the replaced version's blob is
# released: the row stays for history with `blob_released_at`, and the file is deleted
# after the commit, under the blob's hash lock, when no unreleased version still needs it.
PRESET_AUTO_CHECKS = ("content_safety", "min_size", "blur", "file_size", "near_duplicates")
PRESET_TAG_LIMIT = 50
PRESET_LOCK_KEY = 0x9E5E7  # serialises preset writes (one default preset per type)
PUBLIC_ID_SUFFIX_TRIES = 8


def _require_admin(actor, action: str) -> None:
    if not policy.is_admin_role(actor):
        raise NotAllowed(f"Only admins {action}.")


def _preset_lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PRESET_LOCK_KEY])


def _clean_preset_name(name) -> str:
    from django.core.exceptions import ValidationError as DjangoValidationError
    from django.core.validators import validate_slug

    name = str(name or "").strip()
    if not name:
        raise ValidationFailed("Enter a preset name.", field="name")
    try:
        validate_slug(name)
    except DjangoValidationError:
        raise ValidationFailed(
            "Preset names use letters, digits, “_” and “-” only.", field="name"
        ) from None
    if len(name) > 100:
        raise ValidationFailed("Preset names have at most 100 characters.", field="name")
    return name


def _clean_choice(value, choices, field: str, what: str):
    if value not in choices:
        raise ValidationFailed(f"{what} is one of: {', '.join(choices)}.", field=field)
    return value


def _clean_preset(changes: dict) -> dict:
    """Validate the fields present in `changes`; returns the cleaned values."""
    from assets.models import AccessMode, ModerationMode, PublicIdMode

    cleaned: dict = {}
    if "name" in changes:
        cleaned["name"] = _clean_preset_name(changes["name"])
    if "public_id_mode" in changes:
        cleaned["public_id_mode"] = _clean_choice(
            changes["public_id_mode"], PublicIdMode.values, "public_id_mode", "Public ID mode"
        )
    if "overwrite" in changes:
        if not isinstance(changes["overwrite"], bool):
            raise ValidationFailed("overwrite is true or false.", field="overwrite")
        cleaned["overwrite"] = changes["overwrite"]
    if "folder" in changes:
        folder = changes["folder"]
        if folder is not None and (not isinstance(folder, Folder) or folder.deleted_at):
            raise ValidationFailed("No such folder.", field="folder")
        cleaned["folder"] = folder
    if "tags" in changes:
        tags = _clean_tags(changes["tags"])
        if len(tags) > PRESET_TAG_LIMIT:
            raise ValidationFailed(f"A preset has at most {PRESET_TAG_LIMIT} tags.", field="tags")
        cleaned["tags"] = tags
    if "moderation" in changes:
        cleaned["moderation"] = _clean_choice(
            changes["moderation"], ModerationMode.values, "moderation", "Moderation"
        )
    if "auto_checks" in changes:
        checks = list(dict.fromkeys(changes["auto_checks"] or []))
        for check in checks:
            _clean_choice(check, PRESET_AUTO_CHECKS, "auto_checks", "Each automatic check")
        cleaned["auto_checks"] = checks
    if "check_settings" in changes:
        from moderation.checks import clean_settings

        try:
            cleaned["check_settings"] = clean_settings(changes["check_settings"])
        except ValueError as exc:
            raise ValidationFailed(str(exc), field="check_settings") from None
    if "access_mode" in changes:
        cleaned["access_mode"] = _clean_choice(
            changes["access_mode"], AccessMode.values, "access_mode", "Access mode"
        )
    if "default_for" in changes:
        types = list(dict.fromkeys(changes["default_for"] or []))
        for kind in types:
            _clean_choice(kind, AssetType.values, "default_for", "Each default type")
        cleaned["default_for"] = types
    return cleaned


def _require_free_defaults(default_for: list[str], exclude_pk: int | None) -> None:
    """One default preset per asset type; checked under the preset lock."""
    from assets.models import UploadPreset

    if not default_for:
        return
    others = UploadPreset.objects.filter(default_for__overlap=default_for)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    clash = others.first()
    if clash is not None:
        kinds = ", ".join(k for k in default_for if k in clash.default_for)
        raise Conflict(
            f"The preset “{clash.name}” is already the default for {kinds}; remove it there first.",
            field="default_for",
        )


def _require_free_preset_name(name: str, exclude_pk: int | None) -> None:
    from assets.models import UploadPreset

    taken = UploadPreset.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise Conflict(f"A preset named “{name}” already exists.", field="name")


def preset_fields(preset) -> dict:
    """A preset as plain data: for the audit log and the API."""
    return {
        "name": preset.name,
        "public_id_mode": preset.public_id_mode,
        "overwrite": preset.overwrite,
        "folder": preset.folder_id,
        "tags": list(preset.tags),
        "moderation": preset.moderation,
        "auto_checks": list(preset.auto_checks),
        "check_settings": dict(preset.check_settings or {}),
        "access_mode": preset.access_mode,
        "default_for": list(preset.default_for),
    }


def _require_checks(moderation: str, auto_checks) -> None:
    """Automatic moderation with no check would leave every upload pending unseen."""
    if moderation == ModerationMode.AUTO and not auto_checks:
        raise ValidationFailed(
            "Choose at least one automatic check, or use manual review.", field="auto_checks"
        )


def preset_create(
    *,
    actor,
    name: str,
    public_id_mode: str = "random",
    overwrite: bool = False,
    folder: Folder | None = None,
    tags=(),
    moderation: str = "none",
    auto_checks=(),
    check_settings=None,
    access_mode: str = "public",
    default_for=(),
):
    from assets.models import UploadPreset

    _require_admin(actor, "manage upload presets")
    fields = _clean_preset(
        {
            "name": name,
            "public_id_mode": public_id_mode,
            "overwrite": overwrite,
            "folder": folder,
            "tags": tags,
            "moderation": moderation,
            "auto_checks": auto_checks,
            "check_settings": check_settings,
            "access_mode": access_mode,
            "default_for": default_for,
        }
    )
    _require_checks(fields["moderation"], fields["auto_checks"])
    try:
        with transaction.atomic():
            _preset_lock()
            _require_free_preset_name(fields["name"], None)
            _require_free_defaults(fields["default_for"], None)
            preset = UploadPreset.objects.create(**fields)
            audit_record(actor=actor, verb="preset.create", obj=preset, data=preset_fields(preset))
    except IntegrityError:
        raise Conflict(f"A preset named “{fields['name']}” already exists.", field="name") from None
    return preset


def preset_update(*, actor, preset, **changes):
    """Change the fields passed; unknown fields are refused."""
    from assets.models import UploadPreset

    _require_admin(actor, "manage upload presets")
    unknown = set(changes) - {
        "name",
        "public_id_mode",
        "overwrite",
        "folder",
        "tags",
        "moderation",
        "auto_checks",
        "check_settings",
        "access_mode",
        "default_for",
    }
    if unknown:
        field = sorted(unknown)[0]
        raise ValidationFailed(f"{field} is not a preset field.", field=field)
    fields = _clean_preset(changes)
    try:
        with transaction.atomic():
            _preset_lock()
            fresh = UploadPreset.objects.select_for_update().filter(pk=preset.pk).first()
            if fresh is None:
                raise NotFound("No such preset.")
            if "name" in fields:
                _require_free_preset_name(fields["name"], fresh.pk)
            if "default_for" in fields:
                _require_free_defaults(fields["default_for"], fresh.pk)
            _require_checks(
                fields.get("moderation", fresh.moderation),
                fields.get("auto_checks", fresh.auto_checks),
            )
            before = preset_fields(fresh)
            for field, value in fields.items():
                setattr(fresh, field, value)
            fresh.save()
            after = preset_fields(fresh)
            audit_record(
                actor=actor,
                verb="preset.update",
                obj=fresh,
                data={
                    "before": {k: v for k, v in before.items() if after[k] != v},
                    "after": {k: v for k, v in after.items() if before[k] != v},
                },
            )
    except IntegrityError:
        raise Conflict("A preset with that name already exists.", field="name") from None
    return fresh


def preset_delete(*, actor, preset) -> None:
    """Assets keep their files and settings; they just no longer name the preset."""
    from assets.models import UploadPreset

    _require_admin(actor, "manage upload presets")
    with transaction.atomic():
        deleted, _ = UploadPreset.objects.filter(pk=preset.pk).delete()
        if deleted:
            audit_record(
                actor=actor,
                verb="preset.delete",
                obj=None,
                data={"preset": preset.pk, "name": preset.name},
            )


def preset_default_for(kind: str):
    """The preset that is the default for an asset type, or None."""
    from assets.models import UploadPreset

    return UploadPreset.objects.filter(default_for__contains=[kind]).first()


# -- uploads with a preset -----------------------------------------------------------
def _public_id_taken(public_id: str) -> Conflict:
    # The same words whether or not the actor can see the asset: nothing leaks.
    return Conflict(f"An asset with public ID “{public_id}” already exists.", field="public_id")


def _upload_folder(actor, folder: Folder | None, preset) -> Folder:
    """The request's folder, else the preset's (if the actor can see it)."""
    if folder is not None:
        return folder
    if preset is not None and preset.folder_id is not None:
        target = Folder.objects.filter(pk=preset.folder_id).first()
        if target is not None and policy.access_for(actor).folder_level(target) > Level.NONE:
            return target
        raise ValidationFailed(
            f"The preset “{preset.name}” uploads to a folder you cannot use; choose a folder.",
            field="folder",
        )
    raise ValidationFailed("Choose a folder to upload to.", field="folder")


def _can_overwrite(actor, asset: Asset, preset) -> bool:
    return bool(
        preset is not None
        and preset.overwrite
        and asset.deleted_at is None
        and policy.access_for(actor).asset_level(asset) >= Level.EDIT
    )


def _overwrite_target(actor, public_id: str, preset) -> Asset | None:
    """None when the public ID is free; the asset when this upload overwrites it; else 409."""
    existing = Asset.all_objects.filter(public_id=public_id).first()
    if existing is None:
        return None
    if _can_overwrite(actor, existing, preset):
        return existing
    raise _public_id_taken(public_id)


def _preset_public_id(actor, filename: str, preset) -> tuple[str, Asset | None]:
    """A random ID, or (preset "filename") the slugified file name: an existing asset of
    that name is overwritten when the preset allows it and the actor has edit, otherwise
    the ID gets a short random suffix."""
    from django.utils.text import slugify

    from assets.models import PublicIdMode

    if preset is None or preset.public_id_mode != PublicIdMode.FILENAME:
        return _new_public_id(), None
    base = os.path.basename(str(filename or "").replace("\x00", ""))
    stem = slugify(os.path.splitext(base)[0])[:200].strip("-_")
    if not stem or not PUBLIC_ID_RE.match(stem):
        return _new_public_id(), None
    existing = Asset.all_objects.filter(public_id=stem).first()
    if existing is None:
        return stem, None
    if _can_overwrite(actor, existing, preset):
        return stem, existing
    for _ in range(PUBLIC_ID_SUFFIX_TRIES):
        candidate = f"{stem}-{secrets.token_hex(3)}"
        if not Asset.all_objects.filter(public_id=candidate).exists():
            return candidate, None
    return _new_public_id(), None


def _preset_tags(preset, tags: list[str]) -> list[str]:
    if preset is None:
        return tags
    return [*tags, *(t for t in preset.tags if t not in tags)]


def _preset_moderation(preset) -> str:
    from assets.models import ModerationMode, ModerationStatus

    if preset is not None and preset.moderation != ModerationMode.NONE:
        return ModerationStatus.PENDING
    return ModerationStatus.NOT_MODERATED


def _preset_stamp(asset: Asset, preset) -> None:
    """A new asset takes the preset's access mode and moderation, and names the preset."""
    if preset is None:
        return
    asset.access_mode = preset.access_mode
    asset.moderation_status = _preset_moderation(preset)
    asset.preset = preset
    asset.save(update_fields=["access_mode", "moderation_status", "preset"])


def _facts_fields(facts) -> dict:
    """The file facts an asset and its version share (the probe may add more later)."""
    fields = {
        "format": facts.format,
        "mime_type": facts.mime_type,
        "width": getattr(facts, "width", None),
        "height": getattr(facts, "height", None),
        "duration": getattr(facts, "duration", None),
        "pages": getattr(facts, "pages", None),
    }
    return fields


def _next_version_number(asset: Asset) -> int:
    from django.db.models import Max

    return (asset.versions.aggregate(n=Max("number"))["n"] or 0) + 1


def _version_release(previous: AssetVersion | None, new_blob_name: str):
    """With automatic backup off, mark the replaced version's blob released; returns
    (sha256, blob_name) to delete after the commit, or None."""
    from django.utils import timezone

    from dam.preferences import preferences_get

    if previous is None or previous.blob_released_at is not None:
        return None
    if preferences_get().automatic_backup or previous.blob_name == new_blob_name:
        return None
    previous.blob_released_at = timezone.now()
    previous.save(update_fields=["blob_released_at"])
    return previous.sha256, previous.blob_name


def _release_after_commit(released) -> None:
    if released:
        sha256, name = released
        transaction.on_commit(
            lambda: blob_release_unreferenced(sha256=sha256, blob_name=name), robust=True
        )


def blob_release_unreferenced(*, sha256: str, blob_name: str) -> bool:
    """Delete a released blob unless a version that still keeps its file references it
    (another asset with the same bytes, or an older version). Runs after the commit."""
    try:
        with transaction.atomic():
            _lock_blob(sha256)
            if AssetVersion.objects.filter(
                blob_name=blob_name, blob_released_at__isnull=True
            ).exists():
                return False
            blob_delete(blob_name)
            return True
    except Exception:  # the orphan sweeper retries what fails here
        log.exception("could not release blob %s", blob_name)
        return False


def _lock_asset_for_version(asset: Asset, public_id: str | None = None) -> Asset:
    locked = Asset.all_objects.select_for_update(of=("self",)).filter(pk=asset.pk).first()
    if locked is None or locked.deleted_at is not None:
        if public_id is not None:
            raise _public_id_taken(public_id)
        raise NotFound("No such asset.")
    return locked


def _version_rows_create(
    *,
    actor,
    asset,
    preset,
    display_name,
    filename,
    facts,
    sha256,
    nbytes,
    blob_name,
    tags,
    metadata=None,
    context=None,
    schema=None,
) -> tuple[Asset, AssetVersion, tuple | None]:
    """Overwrite: the new file becomes version N+1 (the caller holds the blob lock)."""
    from dam.preferences import preferences_get

    asset = _lock_asset_for_version(asset, asset.public_id)
    if policy.access_for(actor).asset_level(asset) < Level.EDIT:
        raise _public_id_taken(asset.public_id)
    previous = asset.versions.filter(number=asset.version).first()
    file_fields = _facts_fields(facts)
    version = AssetVersion.objects.create(
        asset=asset,
        number=_next_version_number(asset),
        blob_name=blob_name,
        sha256=sha256,
        bytes=nbytes,
        original_filename=filename,
        created_by=actor,
        **file_fields,
    )
    kind = getattr(facts, "type", None) or getattr(facts, "asset_type", None)
    changes = {
        **file_fields,
        "version": version.number,
        "bytes": nbytes,
        "original_filename": filename,
        "facts": {},
        "phash": "",
        "processing_status": ProcessingStatus.PROCESSING,
        "processing_error": "",
        "preset": preset,
    }
    if kind in AssetType.values:
        changes["type"] = kind
    if preset is not None and preset.moderation != "none":
        changes["moderation_status"] = _preset_moderation(preset)
    elif asset.moderation_status != ModerationStatus.NOT_MODERATED:
        # A moderated asset's new file is judged again: an approval was of the old one.
        changes["moderation_status"] = ModerationStatus.PENDING
    keep = preferences_get().keep_metadata_on_new_version
    if not keep:
        changes.update(tags=tags, metadata={}, context={})
        changes["display_name"] = display_name or os.path.splitext(filename)[0] or filename
    if not keep or metadata not in (None, {}):
        # Starting afresh, the new version gets the defaults like a new asset; otherwise
        # what was sent is an edit of the values kept.
        changes["metadata"] = metadata_services.metadata_resolve(
            schema=schema or metadata_selectors.schema_get(),
            current=asset.metadata if keep else {},
            changes=metadata,
            creating=not keep,
        ).values
    if context is not None:
        changes["context"] = context
    for field, value in changes.items():
        setattr(asset, field, value)
    asset.save(update_fields=[*changes, "updated_at"])
    released = _version_release(previous, blob_name)
    audit_record(
        actor=actor,
        verb="asset.new_version",
        obj=asset,
        data={
            "version": version.number,
            "bytes": nbytes,
            "sha256": sha256,
            "replaced": previous.number if previous else None,
            "released": bool(released),
        },
    )
    return asset, version, released


def asset_version_restore(*, actor, asset: Asset, number: int) -> Asset:
    """Make version `number` current again as a new version pointing at its blob (no copy)."""
    from assets.tasks import process_version

    _require_asset_level(actor, asset, Level.EDIT, "restore versions of this asset")
    source = AssetVersion.objects.filter(asset=asset, number=number).first()
    if source is None:
        raise NotFound("No such version.")
    with transaction.atomic():
        # Same lock order as uploads: the blob's hash lock, then the asset row.
        _lock_blob(source.sha256)
        asset = _lock_asset_for_version(asset)
        source = AssetVersion.objects.get(pk=source.pk)
        if source.blob_released_at is not None:
            raise Conflict(
                f"The file of version {number} was not kept (automatic backup was off), "
                "so it cannot be restored."
            )
        if number == asset.version:
            raise Conflict(f"Version {number} is already the current version.")
        if not default_storage.exists(source.blob_name):
            log.error("storage is missing original %s", source.blob_name)
            raise Conflict(f"The file of version {number} is missing from storage.")
        previous = asset.versions.filter(number=asset.version).first()
        copied = {
            "format": source.format,
            "mime_type": source.mime_type,
            "width": source.width,
            "height": source.height,
            "duration": source.duration,
            "pages": source.pages,
        }
        version = AssetVersion.objects.create(
            asset=asset,
            number=_next_version_number(asset),
            blob_name=source.blob_name,
            sha256=source.sha256,
            bytes=source.bytes,
            original_filename=source.original_filename,
            facts=source.facts,
            restored_from=source.number,
            created_by=actor,
            **copied,
        )
        changes = {
            **copied,
            "version": version.number,
            "bytes": source.bytes,
            "original_filename": source.original_filename,
            "facts": source.facts,
            "phash": "",
            "processing_status": ProcessingStatus.PROCESSING,
            "processing_error": "",
        }
        if asset.moderation_status != ModerationStatus.NOT_MODERATED:
            # The restored file is judged again (it may have been the rejected one).
            changes["moderation_status"] = ModerationStatus.PENDING
        for field, value in changes.items():
            setattr(asset, field, value)
        asset.save(update_fields=[*changes, "updated_at"])
        released = _version_release(previous, source.blob_name)
        audit_record(
            actor=actor,
            verb="asset.version_restore",
            obj=asset,
            data={
                "version": version.number,
                "restored_from": source.number,
                "replaced": previous.number if previous else None,
                "released": bool(released),
            },
        )
        version_id = version.pk
        transaction.on_commit(lambda: process_version.delay(version_id), robust=True)
        _release_after_commit(released)
    return asset


def asset_version_get(*, asset: Asset, number) -> AssetVersion:
    """One version of an asset the caller already may view; 404 when absent."""
    try:
        number = int(number)
    except (TypeError, ValueError):
        raise NotFound("No such version.") from None
    version = AssetVersion.objects.filter(asset=asset, number=number).first()
    if version is None:
        raise NotFound("No such version.")
    return version


def asset_version_downloadable(*, asset: Asset, number) -> AssetVersion:
    version = asset_version_get(asset=asset, number=number)
    if version.blob_released_at is not None:
        raise Gone(f"The file of version {version.number} was not kept (automatic backup was off).")
    return version


PUBLIC_DOWNLOAD_AUDIT_EVERY = 3600  # seconds: one event per link, asset and address


def downloads_record(*, actor, served: list[tuple[int, int, int]], via: str, link=None) -> None:
    """Originals served, [(asset id, version number, bytes)]: each is audited
    (asset.download, with the version, its bytes and how: page, API, zip or public link;
    no actor for a public link) and counted in the usage reports. One insert each,
    whatever the number of assets. Deliveries (/d/ URLs) are counted, not audited.

    Through a public `link` (anonymous), repeats by one address of one asset within
    PUBLIC_DOWNLOAD_AUDIT_EVERY are counted but not audited again, so a visitor or a bot
    cannot flood the log and bury an asset's history."""
    from dam import usage
    from dam.services import audit_record_many

    if not served:
        return
    usage.bump_many(usage.Kind.DOWNLOAD, {pk: (1, size) for pk, _number, size in served})
    if link is not None and not _first_public_download(link, [pk for pk, _n, _s in served]):
        return
    audit_record_many(
        actor=actor,
        verb="asset.download",
        objects=[
            (Asset, pk, {"version": number, "bytes": size, "via": via})
            for pk, number, size in served
        ],
    )


def _first_public_download(link, asset_ids: list[int]) -> bool:
    """Whether this address has not downloaded these assets through `link` within
    PUBLIC_DOWNLOAD_AUDIT_EVERY (the cache remembers; keyed by a hash, not the token)."""
    import hashlib

    from django.core.cache import cache

    from dam.request_context import client_ip

    link_key = hashlib.sha256(link.token.encode()).hexdigest()[:20]
    key = f"download-audit:{link_key}:{','.join(map(str, asset_ids))}:{client_ip.get() or ''}"
    return cache.add(key, 1, PUBLIC_DOWNLOAD_AUDIT_EVERY)


# -- search index upkeep ------------------------------------------------------------------------
SEARCH_REINDEX_BATCH = 5_000


def search_vectors_rebuild(*, batch: int = SEARCH_REINDEX_BATCH, say=None) -> int:
    """Recompute every asset's search vector (the trigger runs on UPDATE OF metadata), a
    batch of ids per transaction, so writes go on: after a change of the database's locale
    or of its libc/ICU case rules, since words are lower-cased and text metadata terms
    upper-cased when an asset is written. Returns how many assets were re-indexed."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM assets_asset")
        low, high = cursor.fetchone()
    done = 0
    if low is None:
        return done
    for start in range(low, high + 1, batch):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE assets_asset SET metadata = metadata WHERE id >= %s AND id < %s",
                [start, start + batch],
            )
            done += cursor.rowcount
        if say is not None:
            say(done, high - low + 1)
    return done
