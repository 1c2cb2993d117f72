"""Collection pages (thin: validate, call collection_services, render) and the public page
of a published collection."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from accounts import policy
from accounts.policy import CollectionLevel
from assets import collection_selectors as selectors
from assets import collection_services as services
from assets import selectors as asset_selectors
from assets.forms import CollectionForm, CollectionShareForm, PublishForm
from assets.models import Asset, Collection
from assets.responses import original_response, rendition_response
from dam.errors import ServiceError
from dam.text import plural as _plural

LIST_PAGE = 24
GRID_PAGE = 48


def _library_user(request):
    return policy.library_user_or_404(request.user)


def _ids(request) -> list[int]:
    return policy.valid_ids(request.POST.getlist("ids"))


# -- the list -------------------------------------------------------------------------
def _list_context(request, user, form=None) -> dict:
    scope = request.GET.get("scope", "all")
    scope = scope if scope in selectors.SCOPES else "all"
    query = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    rows = selectors.collections_visible(user, scope=scope, query=query)
    page = Paginator(rows, LIST_PAGE).get_page(request.GET.get("page"))
    collections = list(page.object_list)
    selectors.attach_covers(collections)
    selectors.attach_levels(user, collections)
    selectors.attach_published(collections)
    return {
        "page": page,
        "collections": collections,
        "scope": scope,
        "q": query,
        "scopes": [("all", "All"), ("mine", "Created by me"), ("shared", "Shared with me")],
        "can_create": policy.can_create_collections(user),
        "form": form or CollectionForm(),
    }


@login_required
@require_GET
def collections_page(request):
    user = _library_user(request)
    return render(request, "assets/collections.html", _list_context(request, user))


@login_required
@require_POST
def collection_create(request):
    user = _library_user(request)
    form = CollectionForm(request.POST)
    if form.is_valid():
        try:
            collection = services.collection_create(
                actor=user,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except ServiceError as exc:
            form.add_error("name" if exc.field == "name" else None, exc.message)
        else:
            messages.success(request, f"Collection “{collection.name}” created.")
            return redirect("collection", collection_id=collection.pk)
    context = _list_context(request, user, form=form)
    context["open_dialog"] = "new-collection"
    return render(request, "assets/collections.html", context, status=422)


# -- one collection -------------------------------------------------------------------
def _detail_context(request, user, collection, **extra) -> dict:
    access = policy.access_for(user)
    level = access.collection_level(collection)
    assets = selectors.collection_assets(collection)
    page = Paginator(assets, GRID_PAGE).get_page(request.GET.get("page"))
    can_share = level >= CollectionLevel.SHARE and policy.can_share_collections(user)
    context = {
        "collection": collection,
        "level": level,
        "page": page,
        "assets": page.object_list,
        "count": page.paginator.count,
        "can_collaborate": level >= CollectionLevel.COLLABORATE,
        "can_manage": level >= CollectionLevel.MANAGE,
        "can_share": can_share,
        "link": selectors.live_link(collection) if can_share else None,
        "edit_form": CollectionForm(
            initial={"name": collection.name, "description": collection.description}
        ),
        "publish_form": PublishForm(),
        "creator_active": collection.created_by.is_active,
    }
    context.update(extra)
    return context


def _share_context(collection, form=None) -> dict:
    return {
        "shares": selectors.collection_shares(collection),
        "share_form": form or CollectionShareForm(),
        "principals": asset_selectors.share_candidates(),
        "selected": form.data.get("principal", "") if form is not None else "",
    }


def _collection(request, collection_id, minimum=CollectionLevel.VIEW) -> tuple:
    user = _library_user(request)
    return user, policy.get_collection_or_404(user, collection_id, minimum)


def _sharing(request, collection_id) -> tuple:
    """Invites and the public link: share level and the share-collections permission."""
    user = _library_user(request)
    return user, policy.get_collection_to_share_or_404(user, collection_id)


@login_required
@require_GET
def collection_detail(request, collection_id: int):
    user, collection = _collection(request, collection_id)
    from dam import usage

    usage.bump(usage.Kind.COLLECTION_VIEW, object_id=collection.pk)
    return render(
        request, "assets/collection_detail.html", _detail_context(request, user, collection)
    )


def _back(collection, request=None) -> HttpResponse:
    url = reverse("collection", args=[collection.pk])
    page = request.POST.get("page") if request is not None else None
    return redirect(f"{url}?page={page}" if page and page.isdigit() else url)


@login_required
@require_POST
def collection_edit(request, collection_id: int):
    user, collection = _collection(request, collection_id, CollectionLevel.MANAGE)
    form = CollectionForm(request.POST)
    if form.is_valid():
        try:
            services.collection_update(
                actor=user,
                collection=collection,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
            )
        except ServiceError as exc:
            form.add_error("name" if exc.field == "name" else None, exc.message)
        else:
            messages.success(request, "Collection saved.")
            return _back(collection)
    collection.refresh_from_db()
    context = _detail_context(request, user, collection, edit_form=form, open_dialog="edit")
    return render(request, "assets/collection_detail.html", context, status=422)


@login_required
@require_POST
def collection_delete(request, collection_id: int):
    user, collection = _collection(request, collection_id)
    name = collection.name
    try:
        count = services.collection_delete(actor=user, collection=collection)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _back(collection)
    messages.success(
        request,
        f"Collection “{name}” deleted. Its {_plural(count, 'asset')} stay in their folders.",
    )
    return redirect("collections")


@login_required
@require_POST
def collection_items(request, collection_id: int):
    """The grid's toolbar: remove the checked assets, or move them to the start or end."""
    user, collection = _collection(request, collection_id)
    action = request.POST.get("action", "")
    ids = _ids(request)
    if not ids:
        messages.error(request, "Select at least one asset first.")
        return _back(collection, request)
    if action == "download":
        from assets.services import BULK_MAX_IDS
        from assets.zips import zip_response

        if len(ids) > BULK_MAX_IDS:
            messages.error(request, f"At most {BULK_MAX_IDS} assets at a time.")
            return _back(collection, request)

        assets = selectors.collection_assets(collection).filter(pk__in=ids).in_bulk()
        if not assets:
            messages.error(request, "None of those assets can be downloaded.")
            return _back(collection, request)
        from django.core.exceptions import PermissionDenied

        try:
            return zip_response(user, [assets[i] for i in dict.fromkeys(ids) if i in assets])
        except PermissionDenied as exc:
            messages.error(request, str(exc))
            return _back(collection, request)
    try:
        if action == "remove":
            removed = services.collection_remove(actor=user, collection=collection, ids=ids)
            messages.success(
                request,
                f"Removed {_plural(len(removed), 'asset')} from the collection "
                "(they stay in their folders).",
            )
        elif action in ("move_first", "move_last"):
            order = list(
                collection.items.order_by("position", "id").values_list("asset_id", flat=True)
            )
            before = next((i for i in order if i not in set(ids)), None)
            services.collection_reorder(
                actor=user,
                collection=collection,
                ids=[i for i in order if i in set(ids)],
                before=before if action == "move_first" else None,
            )
            where = "start" if action == "move_first" else "end"
            messages.success(request, f"Moved {_plural(len(ids), 'asset')} to the {where}.")
        else:
            messages.error(request, "Choose an action.")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return _back(collection, request)


@login_required
@require_POST
def collection_reorder(request, collection_id: int):
    """Drag and drop in the grid: {"order": [asset ids of the page in the new order]}."""
    import json

    user, collection = _collection(request, collection_id)
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        body = None
    order = body.get("order") if isinstance(body, dict) else None
    try:
        services.collection_reorder_run(actor=user, collection=collection, ids=order)
    except ServiceError as exc:
        return JsonResponse({"detail": exc.message, "code": exc.code}, status=exc.status)
    return JsonResponse({"order": order})


# -- invites and the public link -----------------------------------------------------------
def _shares_fragment(request, collection, form=None, status=200):
    context = {"collection": collection, **_share_context(collection, form)}
    return render(request, "assets/_collection_shares.html", context, status=status)


@login_required
def collection_shares(request, collection_id: int):
    user, collection = _sharing(request, collection_id)
    if request.method == "GET":
        return _shares_fragment(request, collection)
    form = CollectionShareForm(request.POST)
    if not form.is_valid():
        return _shares_fragment(request, collection, form, status=422)
    if request.POST.get("remove"):
        kind, pk = form.cleaned_data["principal"]
        principal = asset_selectors.principal_get(
            principal_type=kind, principal_id=pk, include_inactive=True
        )
        try:
            if principal is not None:
                services.collection_unshare(actor=user, collection=collection, principal=principal)
        except ServiceError as exc:
            form.add_error(None, exc.message)
            return _shares_fragment(request, collection, form, status=422)
        return _shares_fragment(request, collection)
    kind, pk = form.cleaned_data["principal"]
    principal = asset_selectors.principal_get(principal_type=kind, principal_id=pk)
    if principal is None:
        form.add_error("principal", "That user or group no longer exists.")
        return _shares_fragment(request, collection, form, status=422)
    try:
        services.collection_share(
            actor=user,
            collection=collection,
            principal=principal,
            level=CollectionLevel.from_label(form.cleaned_data["level"] or "view"),
        )
    except ServiceError as exc:
        form.add_error("level" if exc.field == "level" else None, exc.message)
        return _shares_fragment(request, collection, form, status=422)
    return _shares_fragment(request, collection)


@login_required
@require_POST
def collection_publish(request, collection_id: int):
    user, collection = _sharing(request, collection_id)
    if request.POST.get("revoke"):
        try:
            if services.collection_unpublish(actor=user, collection=collection):
                messages.success(request, "The public link is revoked; it no longer opens.")
        except ServiceError as exc:
            messages.error(request, exc.message)
        return _back(collection)
    form = PublishForm(request.POST)
    if form.is_valid():
        try:
            services.collection_publish(
                actor=user,
                collection=collection,
                expires_at=form.cleaned_data["expires_at"],
                allow_originals=form.cleaned_data["allow_originals"],
            )
        except ServiceError as exc:
            form.add_error("expires_at" if exc.field == "expires_at" else None, exc.message)
        else:
            messages.success(request, "Published. Anyone with the link can view the collection.")
            return _back(collection)
    context = _detail_context(request, user, collection, publish_form=form, open_dialog="publish")
    return render(request, "assets/collection_detail.html", context, status=422)


# -- adding from the library and the asset page ----------------------------------------------
def add_to_collection(request, user, ids) -> Collection | None:
    """Shared by the library's bulk bar and the asset page: add `ids` to the collection
    named in the form, and say what happened."""
    raw = request.POST.get("collection", "")
    try:
        collection = policy.get_collection_or_404(user, raw, CollectionLevel.COLLABORATE)
        result = services.collection_add(actor=user, collection=collection, ids=ids)
    except Http404:
        messages.error(request, "Choose a collection.")
        return None
    except (ServiceError, policy.PermissionDeniedForLevel) as exc:
        messages.error(request, getattr(exc, "message", str(exc)))
        return None
    link = reverse("collection", args=[collection.pk])
    if result["added"]:
        messages.success(
            request, f"Added {_plural(len(result['added']), 'asset')} to “{collection.name}”."
        )
    if result["already"]:
        messages.info(
            request,
            f"{_plural(len(result['already']), 'asset')} already in “{collection.name}”.",
        )
    if result["failed"]:
        reasons = " ".join(sorted(set(result["failed"].values())))
        messages.error(
            request, f"{_plural(len(result['failed']), 'asset')} could not be added: {reasons}"
        )
    collection.link = link
    return collection


@login_required
@require_POST
def asset_add_to_collection(request, asset_id: int):
    user = _library_user(request)
    asset = policy.get_asset_or_404(user, asset_id)
    add_to_collection(request, user, [asset.pk])
    return redirect("assets:detail", asset_id=asset.pk)


# -- the published page (no login) -------------------------------------------------------------
class LinkGone(Http404):
    """The public link is unknown, revoked or expired."""


def _link_or_404(token: str):
    link = selectors.link_by_token(token)
    if link is None:
        raise LinkGone("This link does not exist, was revoked, or has expired.")
    return link


def _public_asset(link, asset_id) -> Asset:
    asset = (
        selectors.public_assets(link.collection).filter(pk=asset_id).first()
        if policy.is_valid_id(asset_id)
        else None
    )
    if asset is None:
        raise Http404("No such asset.")
    return asset


def _public(view):
    """Public pages: an unknown, revoked or expired link (or an asset it does not show)
    answers 404 with a page that says so, and nothing is indexed."""
    import functools

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Http404 as exc:
            gone = isinstance(exc, LinkGone)
            token = kwargs.get("token") if not gone else None
            context = {"gone": gone, "token": token}
            return _no_index(render(request, "assets/public_gone.html", context, status=404))

    return wrapped


def _no_index(response):
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
@_public
def public_collection(request, token: str):
    link = _link_or_404(token)
    page = Paginator(selectors.public_assets(link.collection), GRID_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "link": link,
        "collection": link.collection,
        "page": page,
        "assets": page.object_list,
    }
    from dam import usage

    usage.bump(usage.Kind.COLLECTION_VIEW, object_id=link.collection_id)
    return _no_index(render(request, "assets/public_collection.html", context))


@require_GET
@_public
def public_asset(request, token: str, asset_id: int):
    link = _link_or_404(token)
    asset = _public_asset(link, asset_id)
    context = {"link": link, "collection": link.collection, "asset": asset}
    return _no_index(render(request, "assets/public_asset.html", context))


def _revalidate(response):
    """Files of a public page are checked on every view, so a revoke takes effect at once
    (not after a day in the browser's cache)."""
    response["Cache-Control"] = "private, no-cache"
    return _no_index(response)


@require_GET
@_public
def public_rendition(request, token: str, asset_id: int, spec: str):
    link = _link_or_404(token)
    return _revalidate(rendition_response(_public_asset(link, asset_id), spec))


@require_GET
@_public
def public_download(request, token: str, asset_id: int):
    """The original when the link allows it, else the largest rendition (the preview)."""
    link = _link_or_404(token)
    asset = _public_asset(link, asset_id)
    if link.allow_originals and policy.can_download_original(None, asset):
        return _revalidate(original_response(asset, actor=None, via="public link", link=link))
    response = rendition_response(asset, "preview")
    extension = "svg" if response["Content-Type"].startswith("image/svg") else "webp"
    stem = asset.original_filename.rsplit(".", 1)[0] or "asset"
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}.{extension}")
    return _revalidate(response)
