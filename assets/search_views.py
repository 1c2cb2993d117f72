"""The search page: a search box, an advanced panel, results as the library's grid, facets
that narrow on click. Thin: the same `assets.search` as the API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import policy
from assets import search
from assets.models import AccessMode, AssetType, ModerationStatus
from assets.search_query import QuerySyntaxError
from metadata import selectors as metadata_selectors

PAGE_SIZE = 48
SORT_CHOICES = [
    ("-created_at", "Newest first"),
    ("created_at", "Oldest first"),
    ("display_name", "Name"),
    ("-bytes", "Largest first"),
    ("relevance", "Best match"),
]


def _similar(user, raw: str):
    """The asset to find look-alikes of (?similar=ID), if the user may see it."""
    from accounts.policy import Level

    if not raw:
        return None
    return policy.get_asset_or_404(user, raw, minimum=Level.COLLECTION)


def _clean(value: str, limit: int) -> str:
    return value.replace("\x00", "").strip()[:limit]


def _narrowed(query: QueryDict, term: str) -> str:
    """The current search with one more expression term (a facet click)."""
    q = query.copy()
    q.pop("page", None)
    current = q.get("expression", "").strip()
    q["expression"] = f"{current} {term}".strip() if term not in current else current
    return "?" + q.urlencode()


def _quoted(value: str) -> str:
    return (
        value
        if value.replace("-", "").replace("_", "").isalnum()
        else '"' + value.replace('"', '\\"') + '"'
    )


def _metadata_facets(get, facets: dict, schema) -> list:
    """(field label, [(value label, n, link)]) for each list field with counts."""
    out = []
    for f in schema.fields:
        counts = facets.get(f"metadata.{f.external_id}")
        if not counts:
            continue
        labels = {o.external_id: o.label for o in f.options}
        rows = [
            (labels.get(value, value), n, _narrowed(get, f"metadata.{f.external_id}:{value}"))
            for value, n in sorted(counts.items(), key=lambda kv: -kv[1])
        ]
        out.append((f.label, rows))
    return out


@login_required
@require_GET
def search_page(request):
    user = request.user
    if not policy.can_use_library(user):
        raise Http404("The media library is not part of your role.")
    get = request.GET
    params = search.Params(
        q=_clean(get.get("q", ""), 500),
        expression=_clean(get.get("expression", ""), 2000),
        type=get.get("type", "") if get.get("type", "") in AssetType.values else "",
        format=_clean(get.get("format", ""), 16).lower(),
        tags=[t.strip() for t in _clean(get.get("tags", ""), 1000).split(",") if t.strip()][:20],
        moderation_status=get.get("moderation_status", "")
        if get.get("moderation_status", "") in ModerationStatus.values
        else "",
        access_mode=get.get("access_mode", "")
        if get.get("access_mode", "") in AccessMode.values
        else "",
        sort=get.get("sort", "-created_at") if get.get("sort") in search.SORTS else "-created_at",
        similar=_similar(user, get.get("similar", "")),
    )
    searched = any(
        (params.q, params.expression, params.type, params.format, params.tags,
         params.moderation_status, params.access_mode, params.similar)
    )  # fmt: skip
    advanced = any(
        (params.expression, params.type, params.format, params.tags,
         params.moderation_status, params.access_mode)
    )  # fmt: skip
    context = {
        "params": params,
        "tags_text": ", ".join(params.tags),
        "searched": searched,
        "sorts": SORT_CHOICES,
        "types": AssetType.choices,
        "statuses": ModerationStatus.choices,
        "modes": AccessMode.choices,
        "fields_help": search.FIELDS_HELP,
        "advanced_open": advanced,
    }
    from assets.models import SavedSearch

    own = request.GET.copy()
    own.pop("page", None)
    context["current_query"] = own.urlencode()
    context["saved"] = list(SavedSearch.objects.filter(user=user)[:200])
    status = 200
    if searched:
        try:
            rows = search.search(user, params)
            page = Paginator(rows, PAGE_SIZE).get_page(get.get("page"))
            schema = metadata_selectors.schema_get()
            facets = search.facets(rows, schema)
        except QuerySyntaxError as exc:
            context["syntax_error"] = exc
            status = 400
        else:
            context.update(
                page=page,
                assets=page.object_list,
                count=page.paginator.count,
                facets=[
                    (
                        title,
                        [
                            (value, n, _narrowed(get, f"{name}:{_quoted(str(value))}"))
                            for value, n in sorted(facets[key].items(), key=lambda kv: -kv[1])
                        ],
                    )
                    for key, title, name in (
                        ("type", "Type", "type"),
                        ("format", "Format", "format"),
                        ("tags", "Tags", "tags"),
                    )
                    if facets[key]
                ]
                + _metadata_facets(get, facets, schema),
            )
    return render(request, "assets/search.html", context, status=status)


@login_required
@require_POST
def search_save(request):
    """Save the current search under a name (the page's own query string)."""
    from django.contrib import messages

    from dam.errors import ServiceError

    user = request.user
    query = request.POST.get("query", "")
    try:
        saved = search.saved_search_create(
            actor=user, name=request.POST.get("name", ""), query=query
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(f"{reverse('search')}?{query.lstrip('?')[:3000]}")
    messages.success(request, f"Saved “{saved.name}”. Its link finds the same assets for you.")
    return redirect(f"{reverse('search')}?{saved.query}")


@login_required
@require_POST
def search_saved_delete(request, saved_id: int):
    from django.contrib import messages

    from assets.models import SavedSearch

    saved = SavedSearch.objects.filter(pk=saved_id, user=request.user).first()
    if saved is None:
        raise Http404("No such saved search.")
    search.saved_search_delete(actor=request.user, saved=saved)
    messages.success(request, f"Deleted the saved search “{saved.name}”.")
    return redirect("search")
