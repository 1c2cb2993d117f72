from __future__ import annotations

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
    if "parent" in payload.model_fields_set:
        parent = (
            policy.get_folder_or_404(user, payload.parent) if payload.parent is not None else None
        )
        folder = services.folder_move(actor=user, folder=folder, parent=parent)
    if payload.name is not None:
        folder = services.folder_rename(actor=user, folder=folder, name=payload.name)
    return folder_out(folder, policy.access_for(user))


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
    return [share_out(row) for row in selectors.folder_shares(folder=folder)]


@router.put("/folders/{folder_id}/shares", response=list[ShareOut], tags=["folders"])
def folders_share(request, folder_id: int, payload: ShareIn):
    folder = _share_folder(request, folder_id)
    principal = _principal(payload.principal.type, payload.principal.id)
    level = Level.from_label(payload.level)
    services.folder_share(actor=request.auth, folder=folder, principal=principal, level=level)
    return [share_out(row) for row in selectors.folder_shares(folder=folder)]


@router.delete(
    "/folders/{folder_id}/shares/{principal_type}/{principal_id}",
    response={204: None},
    tags=["folders"],
)
def folders_unshare(request, folder_id: int, principal_type: str, principal_id: int):
    folder = _share_folder(request, folder_id)
    principal = selectors.principal_get(principal_type=principal_type, principal_id=principal_id)
    if principal is None or not services.folder_unshare(
        actor=request.auth, folder=folder, principal=principal
    ):
        raise Http404("No such share.")
    return Status(204, None)


@router.post("/assets", response={201: AssetOut}, tags=["assets"], summary="Upload an asset")
def assets_upload(
    request,
    file: File[UploadedFile],
    folder: Form[int],
    public_id: Form[str | None] = None,
    display_name: Form[str | None] = None,
    tags: Form[str | None] = None,
):
    user = request.auth
    target = policy.get_folder_or_404(user, folder)
    asset = services.asset_upload(
        actor=user,
        file=file,
        filename=file.name,
        folder=target,
        display_name=display_name,
        public_id=public_id,
        tags=tags,
    )
    return Status(201, asset_out(asset, request))


@router.get("/assets/{asset_id}", response=AssetOut, tags=["assets"], summary="One asset")
def assets_get(request, asset_id: int):
    return asset_out(policy.get_asset_or_404(request.auth, asset_id), request)


@router.get("/assets/{asset_id}/download", tags=["assets"], summary="Download the original")
def assets_download(request, asset_id: int):
    return original_response(policy.get_asset_or_404(request.auth, asset_id))
