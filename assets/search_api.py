"""GET /search (API.md "Search"): thin, over assets.search."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Query, Router, Schema, Status

from accounts import policy
from accounts.policy import Level
from assets import search
from assets.schemas import AssetOut, asset_out
from assets.search_query import QuerySyntaxError
from dam import usage
from dam.errors import ValidationFailed
from dam.pagination import PageParams, paginate
from dam.schemas import ObjectIn

router = Router(tags=["search"])


class SearchPage(Schema):
    count: int
    # False only with exact_count=false and more than search.COUNT_LIMIT matches: `count`
    # is then that limit ("more than"); best match ranks that many of them.
    count_exact: bool
    facets: dict[str, dict[str, int]]
    # True when more than search.FACET_SAMPLE match: facets count that many of them.
    facets_sampled: bool
    next: str | None
    previous: str | None
    results: list[AssetOut]


class SyntaxErrorOut(Schema):
    detail: str
    code: str
    position: int


def _text(value: str, field: str, limit: int = 2000) -> str:
    if "\x00" in value or len(value) > limit:
        raise ValidationFailed(f"{field} has at most {limit} characters and no NUL.", field=field)
    return value.strip()


@router.get("/search", response={200: SearchPage, 400: SyntaxErrorOut}, summary="Search assets")
def search_assets(
    request,
    q: str = "",
    expression: str = "",
    folder: int | None = None,
    include_subfolders: bool = True,
    type: Literal["image", "video", "raw"] | None = None,
    format: str = "",
    tags: str = "",
    moderation_status: Literal["not_moderated", "pending", "approved", "rejected"] | None = None,
    access_mode: Literal["public", "restricted"] | None = None,
    created_by: int | None = None,
    similar: int | None = None,
    exact_count: bool = True,
    sort: Literal["created_at", "-created_at", "display_name", "-bytes", "relevance"] = (
        "-created_at"
    ),
    paging: Query[PageParams] = None,
):
    """Only assets you can view (through folders or shared collections) are ever counted
    or returned. `expression` is the query language; a mistake answers 400 with the
    0-based `position` of the problem. `similar={asset id}`: assets that look like it
    (perceptual-hash distance, closest first). `count` is every match, as in every list.
    `exact_count=false` trades it for speed at a million assets: matches are then counted
    up to 1,000 (`count_exact` false past that: `count` is that limit, best match ranks
    that many, and `next` still reaches every match in the other sorts). A search whose
    statements run past `DAM_SEARCH_TIMEOUT_MS` (10 s) is stopped: 400 `search_timeout`,
    asking to narrow it."""
    user = request.auth
    params = search.Params(
        q=_text(q, "q", 500),
        expression=_text(expression, "expression"),
        folder=policy.get_folder_or_404(user, folder) if folder is not None else None,
        include_subfolders=include_subfolders,
        type=type or "",
        format=_text(format, "format", 16),
        tags=[t.strip() for t in _text(tags, "tags").split(",") if t.strip()][:20],
        moderation_status=moderation_status or "",
        access_mode=access_mode or "",
        created_by=created_by,
        sort=sort,
        similar=policy.get_asset_or_404(user, similar, minimum=Level.COLLECTION)
        if similar is not None
        else None,
    )
    try:
        with search.bounded():  # a search too slow answers 400 search_timeout
            found = search.find(user, params, exact_count=exact_count)
            page = paginate(
                request,
                found.rows,
                lambda a: asset_out(a, request),
                paging or PageParams(),
                counted=(found.count, found.exact),
            )
    except QuerySyntaxError as exc:
        body = {"detail": str(exc), "code": "syntax_error", "position": exc.position}
        return Status(400, body)
    page["facets"] = search.found_facets(found)
    page["facets_sampled"] = found.sampled
    usage.search_done(
        q=params.q,
        expression=params.expression,
        matches=found.count,
        first_page=not page.get("previous"),
    )
    # Rendered as built, in SearchPage's field order: a test holds the body equal to what
    # validating it would render, and validating 48 assets again costs more than finding
    # them.
    from dam.api import api

    return api.create_response(request, {k: page[k] for k in SearchPage.model_fields}, status=200)


class SavedIn(ObjectIn):
    name: str
    query: str


class SavedOut(Schema):
    id: int
    name: str
    query: str
    url: str
    created_at: datetime


def saved_out(request, saved) -> dict:
    from django.urls import reverse

    return {
        "id": saved.pk,
        "name": saved.name,
        "query": saved.query,
        "url": request.build_absolute_uri(f"{reverse('search')}?{saved.query}"),
        "created_at": saved.created_at,
    }


@router.get("/saved-searches", response=list[SavedOut], summary="Your saved searches")
def saved_list(request):
    from assets.models import SavedSearch

    return [saved_out(request, s) for s in SavedSearch.objects.filter(user=request.auth)]


@router.post("/saved-searches", response={201: SavedOut}, summary="Save a search")
def saved_create(request, payload: SavedIn):
    """`query` is the search page's query string (q, expression, type, ...)."""
    saved = search.saved_search_create(actor=request.auth, name=payload.name, query=payload.query)
    return Status(201, saved_out(request, saved))


@router.delete("/saved-searches/{saved_id}", response={204: None}, summary="Delete")
def saved_delete(request, saved_id: int):
    from django.http import Http404

    from assets.models import SavedSearch

    saved = SavedSearch.objects.filter(pk=saved_id, user=request.auth).first()
    if saved is None:
        raise Http404("No such saved search.")
    search.saved_search_delete(actor=request.auth, saved=saved)
    return Status(204, None)
