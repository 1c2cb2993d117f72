from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.urls import reverse
from ninja import Schema


class FolderIn(Schema):
    name: str
    parent: int | None = None


class FolderPatch(Schema):
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
    folder: int
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


def asset_out(asset, request=None) -> dict:
    thumb = None
    if asset.processing_status == "ready":
        thumb = reverse("assets:rendition", args=[asset.pk, "thumb"]) + f"?v={asset.version}"
        if request is not None:
            thumb = request.build_absolute_uri(thumb)
    return {
        "id": asset.pk,
        "public_id": asset.public_id,
        "display_name": asset.display_name,
        "folder": asset.folder_id,
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
        "moderation_status": asset.moderation_status,
        "processing_status": asset.processing_status,
        "version": asset.version,
        "created_by": asset.created_by_id,
        "created_at": asset.created_at,
        "updated_at": asset.updated_at,
        "thumbnail_url": thumb,
        "delivery_url": None,
    }


def share_out(row) -> dict:
    return {
        "principal": {"type": row.principal_type, "id": row.principal_id},
        "level": row.level.label,
        "inherited_from": row.folder.pk if row.inherited else None,
    }
