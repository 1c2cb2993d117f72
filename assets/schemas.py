from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import StrictInt

from accounts.policy import Level
from dam.links import id_path
from dam.schemas import ObjectIn


class FolderIn(Schema):
    name: str
    parent: int | None = None


class FolderPatch(ObjectIn):
    name: str | None = None
    parent: int | None = None


class Principal(Schema):
    type: Literal["user", "group"]
    id: int


class ShareIn(Schema):
    principal: Principal
    level: Literal["view", "contribute", "edit", "manage"]


class ShareOut(Schema):
    principal: Principal
    level: str
    inherited_from: int | None
    inherited: bool


class FolderOut(Schema):
    id: int
    name: str
    parent: int | None
    path: str
    my_level: str
    created_at: datetime


class FolderPage(Schema):
    count: int
    next: str | None
    previous: str | None
    results: list[FolderOut]


class AssetOut(Schema):
    id: int
    public_id: str
    display_name: str
    folder: int | None  # null when you see the asset only through a collection
    type: str
    format: str
    bytes: int
    width: int | None
    height: int | None
    duration: float | None
    tags: list[str]
    metadata: dict
    context: dict
    access_mode: str
    public_from: datetime | None = None
    public_until: datetime | None = None
    expires_at: datetime | None = None
    moderation_status: str
    processing_status: str
    version: int
    created_by: int
    created_at: datetime
    updated_at: datetime
    thumbnail_url: str | None
    delivery_url: str | None = None


def folder_out(folder, access) -> dict:
    """`access` is the caller's FolderAccess: path and parent stop at what they can see."""
    return {
        "id": folder.pk,
        "name": folder.name,
        "parent": access.visible_parent_id(folder),
        "path": access.visible_path(folder),
        "my_level": access.folder_level(folder).label,
        "created_at": folder.created_at,
    }


def _folder_visible(asset, request) -> bool:
    """Someone who sees the asset only through a shared collection never learns its folder
    (the grants are cached on the request's user: no query)."""
    from accounts import policy

    user = getattr(request, "auth", None) if request is not None else None
    if user is None:
        return True
    return policy.access_for(user).level_on_chain(asset.ancestors) > Level.NONE


def _thumbnail_url(asset, request) -> str:
    """The asset's thumbnail URL, absolute with a request (the scheme and host are
    looked up once per request: build_absolute_uri() costs as much as reverse())."""
    path = f"{id_path('assets:rendition', asset.pk, 'thumb')}?v={asset.version}"
    if request is None:
        return path
    origin = getattr(request, "_dam_origin", None)
    if origin is None:
        origin = request._dam_origin = request.build_absolute_uri("/")[:-1]
    return f"{origin}{path}"


def asset_out(asset, request=None) -> dict:
    thumb = _thumbnail_url(asset, request) if asset.processing_status == "ready" else None
    return {
        "id": asset.pk,
        "public_id": asset.public_id,
        "display_name": asset.display_name,
        "folder": asset.folder_id if _folder_visible(asset, request) else None,
        "type": asset.type,
        "format": asset.format,
        "bytes": asset.bytes,
        "width": asset.width,
        "height": asset.height,
        "duration": asset.duration,
        "tags": asset.tags,
        "metadata": asset.metadata,
        "context": asset.context,
        "access_mode": asset.access_mode,
        "public_from": asset.public_from,
        "public_until": asset.public_until,
        "expires_at": asset.expires_at,
        "moderation_status": asset.moderation_status,
        "processing_status": asset.processing_status,
        "version": asset.version,
        "created_by": asset.created_by_id,
        "created_at": asset.created_at,
        "updated_at": asset.updated_at,
        "thumbnail_url": thumb,
        "delivery_url": _delivery_url(asset),
    }


def _delivery_url(asset) -> str | None:
    """The plain delivery URL while it works for anyone (public now); else null: a
    restricted asset is reached with a signed URL (POST /assets/{id}/delivery-url)."""
    from django.conf import settings

    from assets.delivery import delivery_path, public_now

    if not public_now(asset):
        return None
    return settings.DAM_BASE_URL.rstrip("/") + delivery_path(asset)


def share_out(row, access) -> dict:
    """`inherited_from` is null when the grant sits on a folder the caller cannot see."""
    visible = row.inherited and access.folder_level(row.folder) > Level.NONE
    return {
        "principal": {"type": row.principal_type, "id": row.principal_id},
        "level": row.level.label,
        "inherited_from": row.folder.pk if visible else None,
        "inherited": row.inherited,
    }


# -- edits, trash, comments, bulk (issue 4: trash & bulk) -------------------------------
class AssetPatch(ObjectIn):
    display_name: str | None = None
    folder: int | None = None
    tags: list[str] | None = None
    context: dict | None = None
    access_mode: str | None = None
    # {field external ID: value}; only the fields sent change, null clears one.
    metadata: dict | None = None
    # The public window and the expiry (null clears one); like access_mode, they need the
    # delivery-URL permission (or an admin role) besides edit access.
    public_from: datetime | None = None
    public_until: datetime | None = None
    expires_at: datetime | None = None


class TrashItemOut(Schema):
    kind: Literal["asset", "folder"]
    id: int
    name: str
    path: str
    deleted_at: datetime
    deleted_by: int | None
    assets: int | None


class TrashPage(Schema):
    count: int
    next: str | None
    previous: str | None
    results: list[TrashItemOut]


class CommentIn(Schema):
    body: str


class CommentOut(Schema):
    id: int
    body: str
    author: int
    author_name: str
    created_at: datetime


class BulkIn(Schema):
    ids: list[int]
    action: Literal["add_tags", "remove_tags", "set_metadata", "move", "delete", "set_access"]
    tags: list[str] | str | None = None
    metadata: dict | None = None
    folder: int | None = None
    # set_access: "public" or "restricted" (the delivery-URL permission or an admin role)
    access_mode: str | None = None


class BulkOut(Schema):
    done: list[int]
    failed: dict[str, str]
    # set_metadata: per asset id, the fields whose values were cleared because they no
    # longer apply after the change.
    cleared: dict[str, list[str]] = {}


class BulkDownloadIn(Schema):
    ids: list[int]


def trash_item_out(row: dict, access) -> dict:
    obj = row["obj"]
    if row["kind"] == "asset":
        return {
            "kind": "asset",
            "id": obj.pk,
            "name": obj.display_name,
            "path": access.visible_path(obj.folder),
            "deleted_at": row["deleted_at"],
            "deleted_by": obj.deleted_by_id,
            "assets": None,
        }
    return {
        "kind": "folder",
        "id": obj.pk,
        "name": obj.name,
        "path": access.visible_path(obj),
        "deleted_at": row["deleted_at"],
        "deleted_by": None,
        "assets": row["assets"],
    }


def comment_out(comment) -> dict:
    author = comment.author
    return {
        "id": comment.pk,
        "body": comment.body,
        "author": author.pk,
        "author_name": author.get_full_name() or author.email,
        "created_at": comment.created_at,
    }


# -- upload presets and versions (issue 4: presets & versions) --------------------------
class PresetIn(Schema):
    name: str
    public_id_mode: Literal["random", "filename"] = "random"
    overwrite: bool = False
    folder: int | None = None
    tags: list[str] = []
    moderation: Literal["none", "manual", "auto"] = "none"
    auto_checks: list[str] = []
    # {check: {threshold: number}}; unset thresholds keep their defaults (see README)
    check_settings: dict = {}
    access_mode: Literal["public", "restricted"] = "public"
    default_for: list[Literal["image", "video", "raw"]] = []


class PresetPatch(ObjectIn):
    name: str | None = None
    public_id_mode: Literal["random", "filename"] | None = None
    overwrite: bool | None = None
    folder: int | None = None
    tags: list[str] | None = None
    moderation: Literal["none", "manual", "auto"] | None = None
    auto_checks: list[str] | None = None
    check_settings: dict | None = None
    access_mode: Literal["public", "restricted"] | None = None
    default_for: list[Literal["image", "video", "raw"]] | None = None


class PresetOut(Schema):
    id: int
    name: str
    public_id_mode: str
    overwrite: bool
    folder: int | None
    tags: list[str]
    moderation: str
    auto_checks: list[str]
    check_settings: dict
    access_mode: str
    default_for: list[str]
    created_at: datetime
    updated_at: datetime


class VersionOut(Schema):
    version: int
    bytes: int
    sha256: str
    format: str
    width: int | None
    height: int | None
    original_filename: str
    created_by: int
    created_at: datetime
    current: bool
    restored_from: int | None
    file_kept: bool


def preset_out(preset) -> dict:
    from assets.services import preset_fields

    return {
        "id": preset.pk,
        **preset_fields(preset),
        "created_at": preset.created_at,
        "updated_at": preset.updated_at,
    }


def version_out(version, asset) -> dict:
    return {
        "version": version.number,
        "bytes": version.bytes,
        "sha256": version.sha256,
        "format": version.format,
        "width": version.width,
        "height": version.height,
        "original_filename": version.original_filename,
        "created_by": version.created_by_id,
        "created_at": version.created_at,
        "current": version.number == asset.version,
        "restored_from": version.restored_from,
        "file_kept": version.blob_released_at is None,
    }


class DeliveryUrlIn(ObjectIn):
    expires_in: StrictInt = 3600
    transformation: str = ""


class DeliveryUrlOut(Schema):
    url: str
    expires_at: datetime


class DeliveryPresetIn(ObjectIn):
    name: str
    transformation: str


class DeliveryPresetPatch(ObjectIn):
    transformation: str


class DeliveryPresetOut(Schema):
    name: str
    transformation: str
    example_url: str
