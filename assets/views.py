from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import policy
from accounts.policy import Level
from assets import selectors, services
from assets.forms import FolderCreateForm, ShareForm
from assets.models import Asset, Folder
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
        "can_edit_folder": folder is not None and level >= Level.EDIT,
        "can_manage_folder": folder is not None and level >= Level.MANAGE,
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


# -- folder management ---------------------------------------------------------------
def _back_to(folder):
    return redirect("assets:folder", folder_id=folder.pk)


@login_required
@require_POST
def folder_rename(request, folder_id: int):
    user = _library_user(request)
    folder = policy.get_folder_or_404(user, folder_id)
    try:
        folder = services.folder_rename(actor=user, folder=folder, name=request.POST.get("name"))
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Folder renamed to “{folder.name}”.")
    return _back_to(folder)


@login_required
@require_POST
def folder_move(request, folder_id: int):
    user = _library_user(request)
    folder = policy.get_folder_or_404(user, folder_id)
    target = request.POST.get("parent", "")
    if not target:
        messages.error(request, "Choose a destination folder.")
        return _back_to(folder)
    parent = None if target == "top" else policy.get_folder_or_404(user, target)
    try:
        folder = services.folder_move(actor=user, folder=folder, parent=parent)
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        where = policy.access_for(user).visible_path(folder)
        messages.success(request, f"Folder moved to “{where}”.")
    return _back_to(folder)


@login_required
@require_POST
def folder_delete(request, folder_id: int):
    user = _library_user(request)
    folder = policy.get_folder_or_404(user, folder_id)
    try:
        count = services.folder_delete(actor=user, folder=folder)
    except services.ServiceError as exc:
        messages.error(request, exc.message)
        return _back_to(folder)
    noun = "asset" if count == 1 else "assets"
    messages.success(request, f"Folder “{folder.name}” deleted; {count} {noun} moved to the trash.")
    parent = Folder.objects.filter(pk=folder.parent_id).first()
    if parent is not None and policy.access_for(user).folder_level(parent) > Level.NONE:
        return _back_to(parent)
    return redirect("assets:library")


def _shares_response(request, folder, form=None, status=200):
    context = {
        "folder": folder,
        "rows": selectors.folder_shares(folder=folder),
        "form": form or ShareForm(),
        "principals": selectors.share_candidates(),
        "selected": form.data.get("principal", "") if form is not None else "",
    }
    return render(request, "assets/_shares.html", context, status=status)


@login_required
def folder_shares(request, folder_id: int):
    """The share dialog's body (manage level or an admin role)."""
    user = _library_user(request)
    folder = policy.get_folder_or_404(user, folder_id, minimum=Level.MANAGE)
    if request.method == "GET":
        return _shares_response(request, folder)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    form = ShareForm(request.POST)
    if not form.is_valid():
        return _shares_response(request, folder, form, status=422)
    kind, pk = form.cleaned_data["principal"]
    principal = selectors.principal_get(principal_type=kind, principal_id=pk)
    if principal is None:
        form.add_error("principal", "That user or group no longer exists.")
        return _shares_response(request, folder, form, status=422)
    try:
        services.folder_share(
            actor=user,
            folder=folder,
            principal=principal,
            level=Level.from_label(form.cleaned_data["level"]),
        )
    except services.ServiceError as exc:
        form.add_error("level" if exc.field == "level" else None, exc.message)
        return _shares_response(request, folder, form, status=422)
    return _shares_response(request, folder)


@login_required
@require_POST
def folder_unshare(request, folder_id: int):
    user = _library_user(request)
    folder = policy.get_folder_or_404(user, folder_id, minimum=Level.MANAGE)
    kind, _, pk = request.POST.get("principal", "").partition(":")
    principal = selectors.principal_get(
        principal_type=kind, principal_id=pk, include_inactive=True
    )
    if principal is not None:
        services.folder_unshare(actor=user, folder=folder, principal=principal)
    return _shares_response(request, folder)


@login_required
@require_GET
def folder_move_targets(request, folder_id: int):
    """Options for the move dialog's destination list, filtered as the user types."""
    user = _library_user(request)
    folder = policy.get_folder_or_404(user, folder_id, minimum=Level.EDIT)
    query = request.GET.get("q", "")
    context = {
        "folder": folder,
        "targets": selectors.move_targets(user=user, folder=folder, query=query),
        "can_move_to_top": bool(folder.parent_id) and policy.can_create_top_level_folder(user),
        "query": query,
    }
    return render(request, "assets/_move_targets.html", context)
