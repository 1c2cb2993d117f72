"""The activity report (admin roles and reports; 404 for everyone else), its CSV export,
and an asset's History section (loaded by htmx into the asset page). Thin: the rules and
the queries live in dam/activity.py."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts import policy
from accounts.policy import Level
from dam import activity

PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
HISTORY_PAGE_SIZE = 20


class OpenPage:
    """A page of a list whose end is not counted (as on the search page): Previous and
    Next, reading one row more than the page to know whether another follows. Pages are
    read with OFFSET, so they stop at MAX; past that, narrow the dates (or export)."""

    paginator = None
    MAX = 2_000

    def __init__(self, rows, raw_number, size: int) -> None:
        raw = str(raw_number or "")
        number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 7 else 1
        self.number = min(max(number, 1), self.MAX)
        start = (self.number - 1) * size
        items = list(rows[start : start + size + 1])
        self.object_list = items[:size]
        self.has_previous = self.number > 1
        self.has_next = len(items) > size and self.number < self.MAX
        self.has_other_pages = self.has_previous or self.has_next
        self.previous_page_number = self.number - 1
        self.next_page_number = self.number + 1
        self.at_max = self.number == self.MAX and len(items) > size


def _viewer(request):
    if not policy.can_see_activity(request.user):
        raise Http404("No such page.")
    return request.user


def _page_size(raw) -> int:
    raw = str(raw or "")
    return int(raw) if raw in {str(s) for s in PAGE_SIZES} else DEFAULT_PAGE_SIZE


@login_required
@require_GET
def activity_page(request):
    """Every audited action, newest first, filtered by user, action, object and dates."""
    user = _viewer(request)
    filters = activity.filters_from(request.GET)
    size = _page_size(request.GET.get("page_size"))
    qs = activity.events(filters)
    count, exact = activity.count_bounded(qs) if not filters.errors else (0, True)
    page = OpenPage(qs, request.GET.get("page"), size)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "dam/activity.html",
        {
            "filters": filters,
            "raw": request.GET,
            "page": page,
            "rows": activity.rows(page.object_list, user),
            "count": count,
            "count_exact": exact,
            "count_limit": f"{activity.COUNT_LIMIT:,}",
            **activity.user_picker(filters),
            "actions": activity.action_choices(),
            "object_types": list(activity.OBJECT_TYPES.items()),
            "page_sizes": PAGE_SIZES,
            "page_size": size,
            "export_query": query.urlencode(),
            "csv_max": activity.CSV_MAX_ROWS,
            "nav_active": "activity",
        },
    )


@login_required
@require_GET
def activity_users(request):
    """The typed user picker's suggestions (htmx): <option>s for a datalist."""
    _viewer(request)
    found = activity.user_suggestions(request.GET.get("user", ""))
    return render(request, "dam/_activity_user_options.html", {"found": found})


@login_required
@require_GET
def activity_csv(request):
    """The filtered events as a CSV attachment: every matching row (up to
    activity.CSV_MAX_ROWS), streamed while it is read."""
    user = _viewer(request)
    filters = activity.filters_from(request.GET)
    if filters.errors:
        text = "\n".join(f"{k}: {v}" for k, v in filters.errors.items())
        return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(
        activity.csv_lines(filters, user), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{activity.csv_filename(filters)}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def asset_history(request, asset_id: int):
    """The asset page's History section: the asset's audited actions, for people who may
    view it at view level (collection-only viewers get 403, invisible assets 404)."""
    user = request.user
    asset = policy.get_asset_or_404(user, asset_id, minimum=Level.VIEW)
    page = OpenPage(activity.asset_events(asset), request.GET.get("page"), HISTORY_PAGE_SIZE)
    return render(
        request,
        "dam/_asset_history.html",
        {
            "asset": asset,
            "page": page,
            "rows": activity.history_rows(page.object_list, user, asset=asset),
            "show_ip": policy.can_see_activity(user),
        },
    )
