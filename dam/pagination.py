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
) -> dict:
    if not 1 <= params.page <= MAX_PAGE:
        raise ValidationFailed(f"page is between 1 and {MAX_PAGE:,}.", field="page")
    if not 1 <= params.page_size <= MAX_PAGE_SIZE:
        raise ValidationFailed(f"page_size is between 1 and {MAX_PAGE_SIZE}.", field="page_size")
    count = items.count() if isinstance(items, QuerySet) else len(items)
    start = (params.page - 1) * params.page_size
    rows: Iterable = items[start : start + params.page_size]

    def link(page: int) -> str:
        query = request.GET.copy()
        query["page"] = str(page)
        query["page_size"] = str(params.page_size)
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")

    return {
        "count": count,
        "next": link(params.page + 1) if start + params.page_size < count else None,
        "previous": link(params.page - 1)
        if params.page > 1 and start - params.page_size < count
        else None,
        "results": [serialize(row) for row in rows],
    }
