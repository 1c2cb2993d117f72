from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import policy
from accounts.policy import Level
from assets import selectors, services
from assets.forms import FolderCreateForm
from assets.models import Asset
from assets.responses import original_response, rendition_response

PAGE_SIZE = 48


def _library_user(request):
    if not policy.can_use_library(request.user):
        raise Http404("No such page.")
    return request.user


def _grid_context(request, folder):
    user = request.user
    assets = selectors.folder_assets(user=user, folder=folder) if folder else Asset.objects.none()
    page = Paginator(assets, PAGE_SIZE).get_page(request.GET.get("page"))
    return {"folder": folder, "page": page, "assets": page.object_list}


@login_required
@require_GET
def library(request, folder_id: int | None = None):
    user = _library_user(request)
    folder = policy.get_folder_or_404(user, folder_id) if folder_id is not None else None
    level = policy.access_for(user).folder_level(folder) if folder else Level.NONE
    context = {
        "folder": folder,
        "level": level,
        "breadcrumbs": selectors.folder_breadcrumbs(user=user, folder=folder) if folder else [],
        "children": list(selectors.folder_children(user=user, parent=folder)),
        "tree": selectors.folder_tree(user=user, current=folder),
        "can_upload": folder is not None and level >= Level.CONTRIBUTE,
        "can_create_folder": (
            level >= Level.CONTRIBUTE if folder else policy.can_create_top_level_folder(user)
        ),
        "folder_form": FolderCreateForm(),
        **_grid_context(request, folder),
    }
    return render(request, "assets/library.html", context)


@login_required
@require_GET
def library_grid(request, folder_id: int):
    user = _library_user(request)
    folder = policy.get_folder_or_404(user, folder_id)
    return render(request, "assets/_grid.html", _grid_context(request, folder))


@login_required
@require_POST
def folder_create(request, folder_id: int | None = None):
    user = _library_user(request)
    parent = policy.get_folder_or_404(user, folder_id) if folder_id is not None else None
    form = FolderCreateForm(request.POST)
    if form.is_valid():
        try:
            folder = services.folder_create(
                actor=user, name=form.cleaned_data["name"], parent=parent
            )
        except services.ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Folder “{folder.name}” created.")
            return redirect("assets:folder", folder_id=folder.pk)
    else:
        messages.error(request, "Enter a folder name of at most 255 characters.")
    return redirect("assets:folder", folder_id=parent.pk) if parent else redirect("assets:library")


@login_required
@require_GET
def asset_tile(request, asset_id: int):
    asset = policy.get_asset_or_404(_library_user(request), asset_id)
    return render(request, "assets/_tile.html", {"asset": asset})


@login_required
@require_GET
def asset_detail(request, asset_id: int):
    user = _library_user(request)
    asset = policy.get_asset_or_404(
        user, asset_id, queryset=Asset.objects.select_related("folder", "created_by")
    )
    context = {
        "asset": asset,
        "folder": asset.folder,
        "breadcrumbs": selectors.folder_breadcrumbs(user=user, folder=asset.folder),
        "version": asset.current_version,
        "level": policy.access_for(user).asset_level(asset),
    }
    return render(request, "assets/asset_detail.html", context)


@login_required
@require_GET
def rendition(request, asset_id: int, spec: str):
    asset = policy.get_asset_or_404(_library_user(request), asset_id)
    return rendition_response(asset, spec)


@login_required
@require_GET
def download(request, asset_id: int):
    asset = policy.get_asset_or_404(_library_user(request), asset_id)
    return original_response(asset)


@login_required
@require_GET
def collections(request):
    _library_user(request)
    return render(request, "assets/collections.html")
