from __future__ import annotations

from ninja import File, Form, Query, Router, Status
from ninja.files import UploadedFile

from accounts import policy
from assets import selectors, services
from assets.responses import original_response
from assets.schemas import AssetOut, FolderIn, FolderOut, FolderPage, asset_out, folder_out
from dam.pagination import PageParams, paginate

router = Router()


@router.get("/folders", response=FolderPage, tags=["folders"], summary="Sub-folders")
def folders_list(request, parent: int | None = None, paging: Query[PageParams] = None):
    user = request.auth
    parent_folder = policy.get_folder_or_404(user, parent) if parent is not None else None
    access = policy.access_for(user)
    folders = selectors.folder_children(user=user, parent=parent_folder).order_by("name", "id")
    return paginate(
        request, folders, lambda f: folder_out(f, access.folder_level(f)), paging or PageParams()
    )


@router.post("/folders", response={201: FolderOut}, tags=["folders"], summary="Create a folder")
def folders_create(request, payload: FolderIn):
    user = request.auth
    parent = policy.get_folder_or_404(user, payload.parent) if payload.parent is not None else None
    folder = services.folder_create(actor=user, name=payload.name, parent=parent)
    return Status(201, folder_out(folder, policy.access_for(user).folder_level(folder)))


@router.get("/folders/{folder_id}", response=FolderOut, tags=["folders"], summary="One folder")
def folders_get(request, folder_id: int):
    folder = policy.get_folder_or_404(request.auth, folder_id)
    return folder_out(folder, policy.access_for(request.auth).folder_level(folder))


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
