from __future__ import annotations

from django.db import transaction
from django.http import Http404
from ninja import File, Form, Query, Router, Status
from ninja.files import UploadedFile

from accounts import policy
from accounts.policy import Level
from assets import selectors, services
from assets.responses import original_response
from assets.schemas import (
    AssetOut,
    FolderIn,
    FolderOut,
    FolderPage,
    FolderPatch,
    ShareIn,
    ShareOut,
    asset_out,
    folder_out,
    share_out,
)
from dam.pagination import PageParams, paginate


def json_object_field(text: str | None, field: str) -> dict | None:
    """A multipart field holding a JSON object; malformed JSON is a 422 on that field."""
    import json

    if text is None or text.strip() == "":
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise services.ValidationFailed(f"{field} must be a JSON object.", field=field) from None
    if not isinstance(value, dict):
        raise services.ValidationFailed(f"{field} must be a JSON object.", field=field)
    return value


router = Router()


@router.get("/folders", response=FolderPage, tags=["folders"], summary="Sub-folders")
def folders_list(request, parent: int | None = None, paging: Query[PageParams] = None):
    user = request.auth
    parent_folder = policy.get_folder_or_404(user, parent) if parent is not None else None
    access = policy.access_for(user)
    folders = selectors.folder_children(user=user, parent=parent_folder).order_by("name", "id")
    return paginate(request, folders, lambda f: folder_out(f, access), paging or PageParams())


@router.post("/folders", response={201: FolderOut}, tags=["folders"], summary="Create a folder")
def folders_create(request, payload: FolderIn):
    user = request.auth
    parent = policy.get_folder_or_404(user, payload.parent) if payload.parent is not None else None
    folder = services.folder_create(actor=user, name=payload.name, parent=parent)
    return Status(201, folder_out(folder, policy.access_for(user)))


@router.get("/folders/{folder_id}", response=FolderOut, tags=["folders"], summary="One folder")
def folders_get(request, folder_id: int):
    folder = policy.get_folder_or_404(request.auth, folder_id)
    return folder_out(folder, policy.access_for(request.auth))


@router.patch(
    "/folders/{folder_id}", response=FolderOut, tags=["folders"], summary="Rename or move"
)
def folders_update(request, folder_id: int, payload: FolderPatch):
    user = request.auth
    folder = policy.get_folder_or_404(user, folder_id)
    with transaction.atomic():  # a rename that fails undoes the move it came with
        folder = _folder_update(user, folder, payload)
    return folder_out(folder, policy.access_for(user))


def _folder_update(user, folder, payload: FolderPatch):
    if "parent" in payload.model_fields_set:
        parent = (
            policy.get_folder_or_404(user, payload.parent) if payload.parent is not None else None
        )
        folder = services.folder_move(actor=user, folder=folder, parent=parent)
    if payload.name is not None:
        folder = services.folder_rename(actor=user, folder=folder, name=payload.name)
    return folder


@router.delete("/folders/{folder_id}", response={204: None}, tags=["folders"], summary="Delete")
def folders_delete(request, folder_id: int):
    folder = policy.get_folder_or_404(request.auth, folder_id)
    services.folder_delete(actor=request.auth, folder=folder)
    return Status(204, None)


def _share_folder(request, folder_id: int):
    """Shares are seen and changed with manage level (or an admin role) only."""
    return policy.get_folder_or_404(request.auth, folder_id, minimum=Level.MANAGE)


def _principal(principal_type: str, principal_id):
    principal = selectors.principal_get(principal_type=principal_type, principal_id=principal_id)
    if principal is None:
        raise services.ValidationFailed("No such user or group.", field="principal")
    return principal


@router.get("/folders/{folder_id}/shares", response=list[ShareOut], tags=["folders"])
def folders_shares(request, folder_id: int):
    folder = _share_folder(request, folder_id)
    access = policy.access_for(request.auth)
    return [share_out(row, access) for row in selectors.folder_shares(folder=folder)]


@router.put("/folders/{folder_id}/shares", response=list[ShareOut], tags=["folders"])
def folders_share(request, folder_id: int, payload: ShareIn):
    folder = _share_folder(request, folder_id)
    principal = _principal(payload.principal.type, payload.principal.id)
    level = Level.from_label(payload.level)
    services.folder_share(actor=request.auth, folder=folder, principal=principal, level=level)
    access = policy.access_for(request.auth)
    return [share_out(row, access) for row in selectors.folder_shares(folder=folder)]


@router.delete(
    "/folders/{folder_id}/shares/{principal_type}/{principal_id}",
    response={204: None},
    tags=["folders"],
)
def folders_unshare(request, folder_id: int, principal_type: str, principal_id: int):
    folder = _share_folder(request, folder_id)
    principal = selectors.principal_get(
        principal_type=principal_type, principal_id=principal_id, include_inactive=True
    )
    if principal is None or not services.folder_unshare(
        actor=request.auth, folder=folder, principal=principal
    ):
        raise Http404("No such share.")
    return Status(204, None)


@router.post(
    "/assets",
    response={201: AssetOut, 200: AssetOut},
    tags=["assets"],
    summary="Upload an asset (200 when it overwrote an existing one as a new version)",
)
def assets_upload(
    request,
    file: File[UploadedFile],
    folder: Form[int | None] = None,
    preset: Form[str | None] = None,
    public_id: Form[str | None] = None,
    display_name: Form[str | None] = None,
    tags: Form[str | None] = None,
    metadata: Form[str | None] = None,
    context: Form[str | None] = None,
):
    """`metadata` and `context` are JSON objects sent as form fields."""
    user = request.auth
    target = policy.get_folder_or_404(user, folder) if folder is not None else None
    asset = services.asset_upload(
        actor=user,
        file=file,
        filename=file.name,
        folder=target,
        display_name=display_name,
        public_id=public_id,
        tags=tags,
        preset=_upload_preset(preset),
        metadata=json_object_field(metadata, "metadata"),
        context=json_object_field(context, "context"),
    )
    return Status(200 if asset.overwritten else 201, asset_out(asset, request))


@router.get("/assets/{asset_id}", response=AssetOut, tags=["assets"], summary="One asset")
def assets_get(request, asset_id: int):
    """Also for someone who sees the asset only through a shared collection."""
    asset = policy.get_asset_or_404(request.auth, asset_id, minimum=Level.COLLECTION)
    return asset_out(asset, request)


@router.get("/assets/{asset_id}/download", tags=["assets"], summary="Download the original")
def assets_download(request, asset_id: int, version: int | None = None):
    """The current original (collection viewers too) or an older version's (view level:
    version history belongs to the folder)."""
    minimum = Level.COLLECTION if version is None else Level.VIEW
    asset = policy.get_asset_or_404(request.auth, asset_id, minimum=minimum)
    policy.check_original_download(request.auth, asset)
    if version is not None:
        found = services.asset_version_downloadable(asset=asset, number=version)
        return version_original_response(found, actor=request.auth, via="api")
    return original_response(asset, actor=request.auth, via="api")


# -- edits, trash, comments, bulk (issue 4: trash & bulk) -------------------------------
from assets.models import Asset, Folder  # noqa: E402
from assets.schemas import (  # noqa: E402
    AssetPatch,
    BulkDownloadIn,
    BulkIn,
    BulkOut,
    CommentIn,
    CommentOut,
    TrashPage,
    comment_out,
    trash_item_out,
)
from assets.zips import bulk_zip  # noqa: E402


def _target_folder(user, folder_id) -> Folder:
    """A destination folder; invisible and missing are the same field error."""
    folder = Folder.objects.filter(pk=folder_id).first() if policy.is_valid_id(folder_id) else None
    if folder is None or policy.access_for(user).folder_level(folder) == Level.NONE:
        raise services.ValidationFailed("No such folder.", field="folder")
    return folder


def _trashed_asset(user, asset_id) -> Asset:
    return selectors.trashed_asset_or_404(user=user, asset_id=asset_id)


def _trashed_folder(user, folder_id) -> Folder:
    return selectors.trashed_folder_or_404(user=user, folder_id=folder_id)


@router.patch("/assets/{asset_id}", response=AssetOut, tags=["assets"], summary="Edit")
def assets_update(request, asset_id: int, payload: AssetPatch):
    user = request.auth
    asset = policy.get_asset_or_404(user, asset_id)
    sent = payload.model_fields_set
    for field in ("display_name", "access_mode", "metadata"):
        if field in sent and getattr(payload, field) is None:
            raise services.ValidationFailed(f"{field} cannot be null.", field=field)
    if "folder" in sent:
        if payload.folder is None:
            raise services.ValidationFailed("An asset is always in a folder.", field="folder")
        target = _target_folder(user, payload.folder)
    editable = (
        *("display_name", "tags", "context", "access_mode", "metadata"),
        *("public_from", "public_until", "expires_at"),
    )
    changes = {f: getattr(payload, f) for f in editable}
    changes = {f: v for f, v in changes.items() if f in sent}
    from django.db import transaction

    with transaction.atomic():
        if "folder" in sent:
            asset = services.asset_move(actor=user, asset=asset, folder=target)
        if changes:
            if "tags" in changes and changes["tags"] is None:
                changes["tags"] = []
            asset = services.asset_update(actor=user, asset=asset, **changes)
    asset.refresh_from_db()
    return asset_out(asset, request)


@router.delete("/assets/{asset_id}", response={204: None}, tags=["trash"], summary="To trash")
def assets_delete(request, asset_id: int):
    asset = policy.get_asset_or_404(request.auth, asset_id)
    services.asset_delete(actor=request.auth, asset=asset)
    return Status(204, None)


@router.get("/trash", response=TrashPage, tags=["trash"], summary="What you may restore")
def trash_list(request, paging: Query[PageParams] = None):
    user = request.auth
    access = policy.access_for(user)
    page = paginate(
        request, selectors.trash_entries(user=user), lambda row: row, paging or PageParams()
    )
    page["results"] = [trash_item_out(r, access) for r in selectors.trash_rows(page["results"])]
    return page


@router.post("/assets/{asset_id}/restore", response=AssetOut, tags=["trash"], summary="Restore")
def assets_restore(request, asset_id: int):
    asset = services.asset_restore(actor=request.auth, asset=_trashed_asset(request.auth, asset_id))
    return asset_out(asset, request)


@router.delete("/trash/{asset_id}", response={204: None}, tags=["trash"], summary="Purge now")
def trash_purge(request, asset_id: int):
    services.asset_purge(actor=request.auth, asset=_trashed_asset(request.auth, asset_id))
    return Status(204, None)


@router.post("/folders/{folder_id}/restore", response=FolderOut, tags=["trash"], summary="Restore")
def folders_restore(request, folder_id: int):
    folder = _trashed_folder(request.auth, folder_id)
    services.folder_restore(actor=request.auth, folder=folder)
    folder.refresh_from_db()
    return folder_out(folder, policy.access_for(request.auth))


@router.delete(
    "/trash/folders/{folder_id}", response={204: None}, tags=["trash"], summary="Purge folder"
)
def trash_purge_folder(request, folder_id: int):
    services.folder_purge(actor=request.auth, folder=_trashed_folder(request.auth, folder_id))
    return Status(204, None)


@router.get("/assets/{asset_id}/comments", response=list[CommentOut], tags=["comments"])
def comments_list(request, asset_id: int):
    asset = policy.get_asset_or_404(request.auth, asset_id)
    return [comment_out(c) for c in selectors.asset_comments(asset=asset)]


@router.post("/assets/{asset_id}/comments", response={201: CommentOut}, tags=["comments"])
def comments_create(request, asset_id: int, payload: CommentIn):
    asset = policy.get_asset_or_404(request.auth, asset_id)
    comment = services.comment_create(actor=request.auth, asset=asset, body=payload.body)
    return Status(201, comment_out(comment))


# Its own router, mounted before `router`: "/assets/{asset_id}" would otherwise take
# "/assets/bulk" (ninja path params match any segment) and answer 405.
bulk_router = Router()


@bulk_router.post("/assets/bulk", response=BulkOut, tags=["assets"], summary="One action, many")
def assets_bulk(request, payload: BulkIn):
    user = request.auth
    folder = _target_folder(user, payload.folder) if payload.action == "move" else None
    if payload.action == "move" and payload.folder is None:
        raise services.ValidationFailed("Choose a destination folder.", field="folder")
    return services.assets_bulk(
        actor=user,
        ids=payload.ids,
        action=payload.action,
        tags=payload.tags,
        folder=folder,
        metadata=payload.metadata,
        access_mode=payload.access_mode,
    )


@bulk_router.post("/assets/bulk/download", tags=["assets"], summary="Originals as a zip")
def assets_bulk_download(request, payload: BulkDownloadIn):
    return bulk_zip(request.auth, payload.ids)


# -- upload presets and versions (issue 4: presets & versions) --------------------------
from assets.models import UploadPreset  # noqa: E402
from assets.responses import version_original_response  # noqa: E402
from assets.schemas import (  # noqa: E402
    PresetIn,
    PresetOut,
    PresetPatch,
    VersionOut,
    preset_out,
    version_out,
)


def _upload_preset(name: str | None):
    """The preset an upload names; an unknown name is a field error (presets are not secret
    from uploaders, but nothing else about them is revealed)."""
    if name is None or name == "":
        return None
    preset = None if "\x00" in name else UploadPreset.objects.filter(name=name).first()
    if preset is None:
        raise services.ValidationFailed("No upload preset with that name.", field="preset")
    return preset


def _admin_only(user) -> None:
    if not policy.is_admin_role(user):
        raise services.NotAllowed("Only admins manage upload presets.")


def _preset_or_404(user, name: str) -> UploadPreset:
    _admin_only(user)
    presets = UploadPreset.objects.select_related("folder")
    preset = None if "\x00" in name else presets.filter(name=name).first()
    if preset is None:
        raise Http404("No such preset.")
    return preset


def _preset_folder(user, folder_id) -> Folder | None:
    return None if folder_id is None else _target_folder(user, folder_id)


@router.get("/upload-presets", response=list[PresetOut], tags=["upload presets"])
def presets_list(request):
    _admin_only(request.auth)
    return [preset_out(p) for p in selectors.upload_presets()]


@router.post("/upload-presets", response={201: PresetOut}, tags=["upload presets"])
def presets_create(request, payload: PresetIn):
    user = request.auth
    _admin_only(user)
    fields = payload.dict()
    fields["folder"] = _preset_folder(user, fields["folder"])
    preset = services.preset_create(actor=user, **fields)
    return Status(201, preset_out(preset))


@router.get("/upload-presets/{name}", response=PresetOut, tags=["upload presets"])
def presets_get(request, name: str):
    return preset_out(_preset_or_404(request.auth, name))


@router.patch("/upload-presets/{name}", response=PresetOut, tags=["upload presets"])
def presets_update(request, name: str, payload: PresetPatch):
    user = request.auth
    preset = _preset_or_404(user, name)
    changes = {f: getattr(payload, f) for f in payload.model_fields_set}
    for field in ("name", "public_id_mode", "overwrite", "moderation", "access_mode"):
        if field in changes and changes[field] is None:
            raise services.ValidationFailed(f"{field} cannot be null.", field=field)
    for field in ("tags", "auto_checks", "default_for"):
        if field in changes and changes[field] is None:
            changes[field] = []
    if "check_settings" in changes and changes["check_settings"] is None:
        changes["check_settings"] = {}
    if "folder" in changes:
        changes["folder"] = _preset_folder(user, changes["folder"])
    return preset_out(services.preset_update(actor=user, preset=preset, **changes))


@router.delete("/upload-presets/{name}", response={204: None}, tags=["upload presets"])
def presets_delete(request, name: str):
    services.preset_delete(actor=request.auth, preset=_preset_or_404(request.auth, name))
    return Status(204, None)


@router.get("/assets/{asset_id}/versions", response=list[VersionOut], tags=["versions"])
def versions_list(request, asset_id: int):
    asset = policy.get_asset_or_404(request.auth, asset_id)
    return [version_out(v, asset) for v in selectors.asset_versions(asset=asset)]


@router.post(
    "/assets/{asset_id}/versions/{version}/restore",
    response=AssetOut,
    tags=["versions"],
    summary="Make an old version current again (as a new version)",
)
def versions_restore(request, asset_id: int, version: int):
    asset = policy.get_asset_or_404(request.auth, asset_id)
    asset = services.asset_version_restore(actor=request.auth, asset=asset, number=version)
    return asset_out(asset, request)


# -- delivery (issue 9) -------------------------------------------------------------------
from assets import delivery_selectors, delivery_services  # noqa: E402
from assets.schemas import (  # noqa: E402
    DeliveryPresetIn,
    DeliveryPresetOut,
    DeliveryPresetPatch,
    DeliveryUrlIn,
    DeliveryUrlOut,
)


@router.post(
    "/assets/{asset_id}/delivery-url",
    response=DeliveryUrlOut,
    tags=["delivery"],
    summary="Signed delivery URL",
)
def asset_delivery_url(request, asset_id: int, payload: DeliveryUrlIn):
    """A signed URL of the current version (and transformation, free parts or t_NAME)
    that works, restricted or not, until `expires_in` seconds from now."""
    asset = policy.get_asset_or_404(request.auth, asset_id, minimum=Level.COLLECTION)
    return delivery_services.signed_url_create(
        actor=request.auth,
        asset=asset,
        expires_in=payload.expires_in,
        transformation=payload.transformation,
    )


def _preset_out(preset) -> dict:
    from django.conf import settings

    return {
        "name": preset.name,
        "transformation": preset.transformation,
        "example_url": f"{settings.DAM_BASE_URL.rstrip('/')}/d/t_{preset.name}/PUBLIC_ID",
    }


@router.get(
    "/delivery-presets", response=list[DeliveryPresetOut], tags=["delivery"], summary="Presets"
)
def delivery_presets(request):
    if not (policy.can_use_library(request.auth) or policy.is_admin_role(request.auth)):
        raise services.NotAllowed("Your role does not use the library.")
    return [_preset_out(p) for p in delivery_selectors.presets()]


@router.post(
    "/delivery-presets", response={201: DeliveryPresetOut}, tags=["delivery"], summary="Add"
)
def delivery_preset_create(request, payload: DeliveryPresetIn):
    preset = delivery_services.preset_create(
        actor=request.auth, name=payload.name, transformation=payload.transformation
    )
    return Status(201, _preset_out(preset))


@router.patch(
    "/delivery-presets/{name}", response=DeliveryPresetOut, tags=["delivery"], summary="Change"
)
def delivery_preset_update(request, name: str, payload: DeliveryPresetPatch):
    preset = delivery_services.preset_update(
        actor=request.auth,
        preset=delivery_selectors.preset_or_404(name),
        transformation=payload.transformation,
    )
    return _preset_out(preset)


@router.delete(
    "/delivery-presets/{name}", response={204: None}, tags=["delivery"], summary="Delete"
)
def delivery_preset_delete(request, name: str):
    delivery_services.preset_delete(
        actor=request.auth, preset=delivery_selectors.preset_or_404(name)
    )
    return Status(204, None)
