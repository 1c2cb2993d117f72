from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import policy
from accounts.policy import Level
from assets import selectors, services
from assets.forms import FolderCreateForm, ShareForm
from assets.models import Asset, Comment, Folder
from assets.responses import original_response, rendition_response
from dam.text import plural as _plural

PAGE_SIZE = 48


def _library_user(request):
    return policy.library_user_or_404(request.user)


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
        "upload_presets": list(selectors.upload_presets()),  # issue 4: presets
        "can_edit_folder": folder is not None and level >= Level.EDIT,
        "can_manage_folder": folder is not None and level >= Level.MANAGE,
        **_grid_context(request, folder),
        **_library_metadata_context(folder, level),
        "collection_targets": _collection_targets(user) if folder else [],
        "can_moderate_here": folder is not None
        and policy.can_moderate_somewhere(user)
        and (policy.is_admin_role(user) or level >= Level.EDIT),
        "can_set_access_here": folder is not None
        and policy.can_use_delivery_urls(user)
        and level >= Level.EDIT,
    }
    return render(request, "assets/library.html", context)


def _collection_targets(user):
    from assets.collection_selectors import add_targets

    return add_targets(user)


def _library_metadata_context(folder, level) -> dict:
    """The upload dialog's metadata form (edit level) and whether bulk edit is offered."""
    from metadata import forms as metadata_forms
    from metadata import selectors as metadata_selectors

    if folder is None:
        return {}
    schema = metadata_selectors.schema_get()
    context = {"md_bulk": bool(schema)}
    if schema and level >= Level.EDIT:
        context["md"] = metadata_forms.form_state(
            schema, mode="upload", ctx="upload-md", base={}, params={"md-folder": folder.pk}
        )
    return context


@login_required
@require_POST
def upload_metadata(request, folder_id: int):
    """The upload dialog's check: the values every file of the batch will be stored with
    (JSON), or the form again with its errors (422)."""
    from django.http import JsonResponse

    from metadata import forms as metadata_forms
    from metadata import selectors as metadata_selectors

    user = _library_user(request)
    folder = policy.get_folder_or_404(user, folder_id, minimum=Level.CONTRIBUTE)
    schema = metadata_selectors.schema_get()
    changes = metadata_forms.read_raw(schema, request.POST)
    try:
        values = services.upload_metadata_check(actor=user, folder=folder, metadata=changes)
    except services.ServiceError as exc:
        errors = metadata_forms.errors_by_field(exc)
        state = metadata_forms.form_state(
            schema,
            mode="upload",
            ctx="upload-md",
            base={},
            data=request.POST,
            errors=errors,
            params={"md-folder": folder.pk},
        )
        context = {"md": state, "md_form_error": "" if errors else exc.message}
        return render(request, "metadata/_fields.html", context, status=422)
    # Fields the user emptied stay empty on upload (an absent field would get its default).
    emptied = {k: None for k, v in changes.items() if k not in values}
    return JsonResponse({"metadata": {**emptied, **values}})


@login_required
@require_POST
def bulk_metadata(request, folder_id: int):
    """Bulk edit of metadata on the grid's selection: only the fields the user changed."""
    from metadata import forms as metadata_forms
    from metadata import selectors as metadata_selectors
    from metadata import services as metadata_services
    from metadata.views import bulk_selection

    user = _library_user(request)
    policy.get_folder_or_404(user, folder_id)
    back = redirect(
        f"{request.path.rsplit('bulk-metadata/', 1)[0]}?page={request.POST.get('page', 1)}"
    )
    ids = _ids(request)
    if not ids:
        messages.error(request, "Select at least one asset first.")
        return back
    schema = metadata_selectors.schema_get()
    selection = bulk_selection(user, ids)
    common, mixed = metadata_forms.common_values(schema, [a.metadata for a in selection])
    changes = metadata_forms.bulk_changes(schema, request.POST, common, mixed)
    if not changes:
        messages.info(request, "Nothing changed: edit a field to apply it to the selection.")
        return back
    try:
        result = services.assets_bulk(actor=user, ids=ids, action="set_metadata", metadata=changes)
    except services.ServiceError as exc:
        messages.error(request, exc.message)
        return back
    if result["done"]:
        messages.success(request, f"Metadata changed on {_plural(len(result['done']), 'asset')}.")
    cleared: dict[str, int] = {}
    for keys in result["cleared"].values():
        for label in metadata_services.labels_of(schema, keys):
            cleared[label] = cleared.get(label, 0) + 1
    for label, count in cleared.items():
        messages.warning(
            request,
            f"Cleared {label} on {_plural(count, 'asset')}: it no longer applies after the change.",
        )
    if result["failed"]:
        reasons = sorted(set(result["failed"].values()))
        messages.error(
            request,
            f"{_plural(len(result['failed']), 'asset')} could not be changed: {' '.join(reasons)}",
        )
    return back


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
    asset = policy.get_asset_or_404(_library_user(request), asset_id, minimum=Level.COLLECTION)
    return render(request, "assets/_tile.html", {"asset": asset})


@login_required
@require_GET
def asset_detail(request, asset_id: int):
    """The asset page. Someone who sees the asset only through a shared collection gets
    the preview, the facts and the download, and nothing more."""
    user = _library_user(request)
    asset = policy.get_asset_or_404(
        user,
        asset_id,
        minimum=Level.COLLECTION,
        queryset=Asset.objects.select_related("folder", "created_by").prefetch_related(
            Prefetch("comments", queryset=Comment.objects.select_related("author"))
        ),
    )
    context = _detail_context(request, asset)
    context.update(_came_from_collection(request, user, asset))
    from dam import usage

    usage.bump(usage.Kind.ASSET_VIEW, object_id=asset.pk)
    return render(request, "assets/asset_detail.html", context)


def _moderation_context(user, asset) -> dict:
    """The asset page's moderation card: its status for everyone who sees the asset, the
    history and the approve/reject form for those who may moderate it."""
    from assets.models import ModerationStatus
    from moderation import selectors as moderation_selectors

    can_moderate = policy.can_moderate_asset(user, asset)
    moderated = asset.moderation_status != ModerationStatus.NOT_MODERATED
    return {
        "can_moderate": can_moderate,
        "moderation_history": moderation_selectors.history(asset)
        if can_moderate and moderated
        else [],
    }


def _came_from_collection(request, user, asset) -> dict:
    """Opened from a collection's grid (?collection=ID): the breadcrumb and the side
    navigation lead back to it, if the user sees it and the asset is in it."""
    from assets.models import Collection

    raw = request.GET.get("collection", "")
    if not (raw.isdigit() and policy.is_valid_id(raw)):
        return {"nav_active": "collections"} if asset.through_collection else {}
    collection = (
        policy.visible_collections(user, Collection.objects.all())
        .filter(pk=int(raw), items__asset=asset)
        .first()
    )
    if collection is None:
        return {"nav_active": "collections"} if asset.through_collection else {}
    return {"from_collection": collection, "nav_active": "collections"}


METADATA_CTX = "asset-md"


def _metadata_context(request, asset, *, data=None, errors=None) -> dict:
    """The asset page's metadata panel: a live form (edit level) or the values."""
    from metadata import forms as metadata_forms
    from metadata import selectors as metadata_selectors

    schema = metadata_selectors.schema_get()
    context = {
        "md_display": metadata_forms.display_rows(schema, asset.metadata),
        "md_defined": bool(schema),
        "can_define_metadata": policy.can_manage_metadata(request.user),
    }
    if policy.access_for(request.user).asset_level(asset) >= Level.EDIT and schema:
        context["md"] = metadata_forms.form_state(
            schema,
            mode="edit",
            ctx=METADATA_CTX,
            base=asset.metadata,
            data=data,
            held=asset.metadata,
            errors=errors,
            params={"md-asset": asset.pk},
        )
    return context


@login_required
@require_POST
def asset_metadata(request, asset_id: int):
    """Save the metadata panel; the rules engine checks it in the service."""
    from metadata import forms as metadata_forms
    from metadata import selectors as metadata_selectors
    from metadata import services as metadata_services

    user = _library_user(request)
    asset = policy.get_asset_or_404(user, asset_id, minimum=Level.EDIT)
    schema = metadata_selectors.schema_get()
    changes = metadata_forms.read_raw(schema, request.POST)
    try:
        asset = services.asset_update(actor=user, asset=asset, metadata=changes, schema=schema)
    except services.ServiceError as exc:
        asset.refresh_from_db()
        errors = metadata_forms.errors_by_field(exc)
        context = _detail_context(
            request,
            asset,
            **_metadata_context(request, asset, data=request.POST, errors=errors),
            md_error=exc.message if not errors else "Please fix the metadata errors below.",
        )
        return render(request, "assets/asset_detail.html", context, status=422)
    messages.success(request, "Metadata saved.")
    if asset.metadata_cleared:
        labels = ", ".join(metadata_services.labels_of(schema, asset.metadata_cleared))
        verb = "applies" if len(asset.metadata_cleared) == 1 else "apply"
        messages.warning(request, f"Cleared {labels}: no longer {verb} after this change.")
    return redirect(f"{request.path.rsplit('metadata/', 1)[0]}#metadata")


@login_required
@require_GET
def rendition(request, asset_id: int, spec: str):
    asset = policy.get_asset_or_404(_library_user(request), asset_id, minimum=Level.COLLECTION)
    return rendition_response(asset, spec)


@login_required
@require_GET
def download(request, asset_id: int):
    asset = policy.get_asset_or_404(_library_user(request), asset_id, minimum=Level.COLLECTION)
    policy.check_original_download(request.user, asset)
    return original_response(asset, actor=request.user, via="page")


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
    principal = selectors.principal_get(principal_type=kind, principal_id=pk, include_inactive=True)
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


# -- versions (issue 4: presets & versions) -------------------------------------------
def _version_or_404(asset, number):
    try:
        return services.asset_version_get(asset=asset, number=number)
    except services.NotFound:
        raise Http404("No such version.") from None


@login_required
@require_GET
def version_rendition(request, asset_id: int, number: int, spec: str):
    from assets.responses import version_rendition_response

    asset = policy.get_asset_or_404(_library_user(request), asset_id)
    return version_rendition_response(_version_or_404(asset, number), spec)


@login_required
@require_GET
def version_download(request, asset_id: int, number: int):
    from assets.responses import version_original_response

    asset = policy.get_asset_or_404(_library_user(request), asset_id)
    policy.check_original_download(request.user, asset)
    try:
        version = services.asset_version_downloadable(asset=asset, number=number)
    except services.NotFound:
        raise Http404("No such version.") from None
    except services.Gone as exc:
        messages.error(request, exc.message)
        return redirect("assets:detail", asset_id=asset.pk)
    return version_original_response(version, actor=request.user, via="page")


@login_required
@require_POST
def version_restore(request, asset_id: int, number: int):
    user = _library_user(request)
    asset = policy.get_asset_or_404(user, asset_id, minimum=Level.EDIT)
    try:
        asset = services.asset_version_restore(actor=user, asset=asset, number=number)
    except services.NotFound:
        raise Http404("No such version.") from None
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Version {number} restored as version {asset.version}.")
    return redirect("assets:detail", asset_id=asset.pk)


# -- bulk actions, asset edits, comments, trash (issue 4: trash & bulk) -----------------
def _ids(request) -> list[int]:
    return policy.valid_ids(request.POST.getlist("ids"))


_BULK_DONE = {
    "add_tags": "Tags added to {}.",
    "remove_tags": "Tags removed from {}.",
    "move": "Moved {}.",
    "delete": "Moved {} to the trash.",
    "restrict": "Restricted {}.",
    "make_public": "Made {} public.",
}


@login_required
@require_POST
def library_bulk(request, folder_id: int):
    """The grid's bulk toolbar: one action on the checked tiles, each checked by the policy."""
    from assets.zips import bulk_zip

    user = _library_user(request)
    policy.get_folder_or_404(user, folder_id)
    action = request.POST.get("action", "")
    back = redirect(f"{request.path.rsplit('bulk/', 1)[0]}?page={request.POST.get('page', 1)}")
    ids = _ids(request)
    if not ids:
        messages.error(request, "Select at least one asset first.")
        return back
    if action in ("approve", "reject"):
        from moderation.views import decide_from_request

        request.POST = request.POST.copy()
        request.POST["decision"] = action
        # The reject dialog's reason belongs to a rejection only.
        request.POST["reason"] = request.POST.get("reason_reject", "") if action == "reject" else ""
        decide_from_request(request, user, ids)
        return back
    if action == "add_to_collection":
        from assets.collection_views import add_to_collection

        add_to_collection(request, user, ids)
        return back
    try:
        if action == "download":
            return bulk_zip(user, ids)
        target = None
        if action == "move":
            folder_id = request.POST.get("folder", "")
            target = (
                Folder.objects.filter(pk=int(folder_id)).first()
                if policy.is_valid_id(folder_id)
                else None
            )
            if target is None or policy.access_for(user).folder_level(target) == Level.NONE:
                raise services.ValidationFailed("Choose a destination folder.")
        modes = {"restrict": "restricted", "make_public": "public"}
        result = services.assets_bulk(
            actor=user,
            ids=ids,
            action="set_access" if action in modes else action,
            tags=request.POST.get(f"tags_{action}"),
            folder=target,
            access_mode=modes.get(action),
        )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
        return back
    except Http404:
        messages.error(request, "None of those assets can be downloaded.")
        return back
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return back
    if result["done"]:
        done = _plural(len(result["done"]), "asset")
        messages.success(request, _BULK_DONE.get(action, "Done: {}.").format(done))
    if result["failed"]:
        reasons = sorted(set(result["failed"].values()))
        messages.error(
            request,
            f"{_plural(len(result['failed']), 'asset')} could not be changed: {' '.join(reasons)}",
        )
    return back


@login_required
@require_GET
def asset_move_targets(request):
    user = _library_user(request)
    query = request.GET.get("q", "")
    targets = selectors.asset_move_targets(user=user, query=query)
    return render(
        request,
        "assets/_move_targets.html",
        {"targets": targets, "can_move_to_top": False, "query": query},
    )


def _detail_context(request, asset, **extra):
    from assets.collection_selectors import add_targets
    from assets.delivery_pages import delivery_context

    user = request.user
    level = policy.access_for(user).asset_level(asset)
    if "md_display" not in extra:
        extra = {**_metadata_context(request, asset), **extra}
    through_collection = level == Level.COLLECTION
    asset.through_collection = through_collection
    return {
        "asset": asset,
        "folder": asset.folder,
        "breadcrumbs": []
        if through_collection
        else selectors.folder_breadcrumbs(user=user, folder=asset.folder),
        "version": asset.current_version,
        "versions": [] if through_collection else selectors.asset_versions(asset=asset),
        "level": level,
        "through_collection": through_collection,
        "can_edit_asset": level >= Level.EDIT,
        "can_manage_asset": level >= Level.MANAGE,
        "collection_targets": [] if through_collection else add_targets(user),
        **delivery_context(user, asset, level),
        **_moderation_context(user, asset),
        "comments": selectors.asset_comments(asset=asset),
        "context_text": "\n".join(f"{k}={v}" for k, v in (asset.context or {}).items()),
        **extra,
    }


def _parse_context(text: str) -> dict:
    context = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise services.ValidationFailed(
                f"Line {number}: write each entry as key=value.", field="context"
            )
        context[key.strip()] = value.strip()
    return context


@login_required
@require_POST
def asset_edit(request, asset_id: int):
    user = _library_user(request)
    asset = policy.get_asset_or_404(user, asset_id, minimum=Level.EDIT)
    data = request.POST
    try:
        services.asset_update(
            actor=user,
            asset=asset,
            display_name=data.get("display_name", ""),
            tags=data.get("tags", ""),
            context=_parse_context(data.get("context", "")),
        )
    except services.ServiceError as exc:
        asset.refresh_from_db()
        context = _detail_context(
            request,
            asset,
            edit_errors={exc.field or "display_name": exc.message},
            edit_data=data,
            edit_open=True,
        )
        return render(request, "assets/asset_detail.html", context, status=422)
    messages.success(request, "Changes saved.")
    return redirect("assets:detail", asset_id=asset.pk)


@login_required
@require_POST
def asset_comment(request, asset_id: int):
    user = _library_user(request)
    asset = policy.get_asset_or_404(user, asset_id)
    try:
        services.comment_create(actor=user, asset=asset, body=request.POST.get("body", ""))
    except services.ServiceError as exc:
        context = _detail_context(
            request, asset, comment_error=exc.message, comment_body=request.POST.get("body", "")
        )
        return render(request, "assets/asset_detail.html", context, status=422)
    return redirect(f"{request.path.rsplit('comments/', 1)[0]}#comments")


@login_required
@require_POST
def asset_delete(request, asset_id: int):
    user = _library_user(request)
    asset = policy.get_asset_or_404(user, asset_id, minimum=Level.MANAGE)
    services.asset_delete(actor=user, asset=asset)
    messages.success(request, f"“{asset.display_name}” moved to the trash.")
    return redirect("assets:folder", folder_id=asset.folder_id)


TRASH_PAGE_SIZE = 25


@login_required
@require_GET
def trash(request):
    user = _library_user(request)
    page = Paginator(selectors.trash_entries(user=user), TRASH_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = selectors.trash_rows(page.object_list)
    return render(request, "assets/trash.html", {"page": page, "rows": rows})


def _trash_item(user, kind: str, pk: int):
    if kind not in ("asset", "folder"):
        raise Http404("No such page.")
    if kind == "asset":
        return selectors.trashed_asset_or_404(user=user, asset_id=pk)
    return selectors.trashed_folder_or_404(user=user, folder_id=pk)


@login_required
@require_POST
def trash_restore(request, kind: str, pk: int):
    user = _library_user(request)
    item = _trash_item(user, kind, pk)
    try:
        if kind == "asset":
            services.asset_restore(actor=user, asset=item)
            messages.success(request, f"“{item.display_name}” restored to {item.folder.name}.")
        else:
            count = services.folder_restore(actor=user, folder=item)
            messages.success(
                request, f"Folder “{item.name}” restored with {_plural(count, 'asset')}."
            )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("assets:trash")


@login_required
@require_POST
def trash_purge(request, kind: str, pk: int):
    user = _library_user(request)
    item = _trash_item(user, kind, pk)
    try:
        if kind == "asset":
            services.asset_purge(actor=user, asset=item)
            messages.success(request, f"“{item.display_name}” deleted forever.")
        else:
            services.folder_purge(actor=user, folder=item)
            messages.success(request, f"Folder “{item.name}” deleted forever.")
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("assets:trash")


# -- upload presets: Settings → Upload presets (issue 4: presets & versions) ----------
def _preset_admin(request):
    if not policy.is_admin_role(request.user):
        raise Http404("No such page.")
    return request.user


def _preset_context(**extra) -> dict:
    return {"settings_tab": "presets", "nav_active": "settings", **extra}


def _preset_form_save(request, form, preset=None):
    """Validate through the service; field errors land on the form. Returns the preset."""
    data = {k: v for k, v in form.cleaned_data.items() if not k.startswith("th__")}
    data["tags"] = data["tags"] or ""
    data["check_settings"] = form.check_settings()
    try:
        if preset is None:
            return services.preset_create(actor=request.user, **data)
        return services.preset_update(actor=request.user, preset=preset, **data)
    except services.ServiceError as exc:
        if exc.field == "check_settings":  # shown beside the thresholds
            form.threshold_error = exc.message
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None


@login_required
@require_GET
def presets(request):
    _preset_admin(request)
    context = _preset_context(presets=list(selectors.upload_presets()))
    return render(request, "assets/presets.html", context)


@login_required
def preset_create(request):
    from assets.forms import PresetForm

    _preset_admin(request)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    form = PresetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        preset = _preset_form_save(request, form)
        if preset is not None:
            messages.success(request, f"Upload preset “{preset.name}” created.")
            return redirect("assets:presets")
    status = 422 if request.method == "POST" else 200
    return render(
        request, "assets/preset_form.html", _preset_context(form=form, preset=None), status=status
    )


@login_required
def preset_edit(request, name: str):
    from assets.forms import PresetForm
    from assets.models import UploadPreset

    _preset_admin(request)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    preset = UploadPreset.objects.select_related("folder").filter(name=name).first()
    if preset is None:
        raise Http404("No such preset.")
    initial = {
        "name": preset.name,
        "public_id_mode": preset.public_id_mode,
        "overwrite": preset.overwrite,
        "folder": preset.folder.path if preset.folder else "",
        "tags": ", ".join(preset.tags),
        "moderation": preset.moderation,
        "auto_checks": preset.auto_checks,
        "access_mode": preset.access_mode,
        "default_for": preset.default_for,
    }
    form = PresetForm(request.POST or None, initial=initial, check_settings=preset.check_settings)
    if request.method == "POST" and form.is_valid():
        saved = _preset_form_save(request, form, preset)
        if saved is not None:
            messages.success(request, f"Upload preset “{saved.name}” saved.")
            return redirect("assets:presets")
    status = 422 if request.method == "POST" else 200
    return render(
        request, "assets/preset_form.html", _preset_context(form=form, preset=preset), status=status
    )


@login_required
@require_POST
def preset_delete(request, name: str):
    from assets.models import UploadPreset

    user = _preset_admin(request)
    preset = UploadPreset.objects.filter(name=name).first()
    if preset is None:
        raise Http404("No such preset.")
    services.preset_delete(actor=user, preset=preset)
    messages.success(request, f"Upload preset “{preset.name}” deleted.")
    return redirect("assets:presets")
