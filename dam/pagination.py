"""API list pages: ?page=N&page_size=M (max 200) -> {count, next, previous, results}."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import QuerySet
from ninja import Schema

from assets.services import ValidationFailed

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_PAGE = 1_000_000


class PageParams(Schema):
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


def paginate(
    request,
    items: QuerySet | list,
    serialize: Callable[[Any], dict],
    params: PageParams,
    *,
    counted: tuple[int, bool] | None = None,
) -> dict:
    """One page. `counted` is (count, exact) when the caller counted with a bound (search
    counts at most so many matches): the page then says `count_exact`, and `next` is
    known by reading one row more than the page."""
    if not 1 <= params.page <= MAX_PAGE:
        raise ValidationFailed(f"page is between 1 and {MAX_PAGE:,}.", field="page")
    if not 1 <= params.page_size <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"page_size is between 1 and {MAX_PAGE_SIZE}.", field="page_size")
    start = (params.page - 1) * params.page_size
    extra = {}
    if counted is not None:
        count, exact = counted
        extra["count_exact"] = exact
        rows: Iterable = list(items[start : start + params.page_size + 1])
        more = len(rows) > params.page_size if not exact else start + params.page_size < count
        rows = rows[: params.page_size]
    else:
        count = items.count() if isinstance(items, QuerySet) else len(items)
        rows = items[start : start + params.page_size]
        more = start + params.page_size < count

    def link(page: int) -> str:
        query = request.GET.copy()
        query["page"] = str(page)
        query["page_size"] = str(params.page_size)
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

    return {
        "count": count,
        "next": link(params.page + 1) if more else None,
        "previous": link(params.page - 1)
        if params.page > 1
        # uncounted past the limit: a page with rows surely follows pages with rows
        and (start - params.page_size < count or (extra.get("count_exact") is False and rows))
        else None,
        "results": [serialize(row) for row in rows],
        **extra,
    }
