"""The search page: a search box, an advanced panel, results as the library's grid, facets
that narrow on click. Thin: the same `assets.search` as the API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts import policy
from assets import search
from assets.models import AccessMode, AssetType, ModerationStatus
from assets.search_query import QuerySyntaxError

PAGE_SIZE = 48
SORT_CHOICES = [
    ("-created_at", "Newest first"),
    ("created_at", "Oldest first"),
    ("display_name", "Name"),
    ("-bytes", "Largest first"),
    ("relevance", "Best match"),
]


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
    )
    searched = any(
        (params.q, params.expression, params.type, params.format, params.tags,
         params.moderation_status, params.access_mode)
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
    status = 200
    if searched:
        try:
            rows = search.search(user, params)
            page = Paginator(rows, PAGE_SIZE).get_page(get.get("page"))
            facets = search.facets(rows)
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
                ],
            )
    return render(request, "assets/search.html", context, status=status)
