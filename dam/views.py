from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from accounts import policy
from dam.errors import error_response


@require_GET
def home(request):
    if not request.user.is_authenticated:
        return redirect("accounts:login")
    if policy.can_use_library(request.user):
        return redirect("assets:library")
    if policy.can_see_reports(request.user):
        return redirect("reports")
    return redirect("accounts:password_change")


@require_GET
def health(request):
    return HttpResponse("ok", content_type="text/plain")


@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request):
    return redirect("/static/img/favicon.svg", permanent=True)


@login_required
@require_GET
def reports(request):
    """The usage dashboard (admin roles, reports, billing) over a chosen period, and the
    analytics (admin roles and reports): all from snapshots and daily counters."""
    from django.template.defaultfilters import filesizeformat

    from dam import charts, reports
    from dam.models import UsageDaily

    user = request.user
    if not policy.can_see_reports(user):
        raise Http404("No such page.")
    period, period_error = reports.period_from(request.GET)
    snapshot = reports.latest_snapshot()
    Kind = UsageDaily.Kind
    size = lambda n: filesizeformat(n)  # noqa: E731
    by_day = reports.day_totals(period)
    uploads = reports.daily_series(by_day, period, Kind.UPLOAD)
    bandwidth = reports.daily_series(by_day, period, Kind.DELIVERY, "bytes")
    context = {
        "period": period,
        "period_error": period_error,
        "periods": [(key, f"{days} days") for key, days in reports.PERIODS.items()],
        "chosen": request.GET.get("period", "") if not period_error else "",
        "snapshot": snapshot,
        "totals": reports.totals(by_day),
        "uploads_chart": charts.bars(uploads, title="Uploads per day"),
        "bandwidth_chart": charts.bars(bandwidth, title="Bandwidth served per day", fmt=size),
        "storage_chart": charts.line(
            reports.storage_series(period), title="Storage used", fmt=size
        ),
        "by_type": sorted(snapshot.assets_by_type.items(), key=lambda kv: -kv[1]),
        "can_see_analytics": policy.can_see_analytics(user),
        "can_open_assets": policy.can_use_library(user),
    }
    if context["can_see_analytics"]:
        context.update(reports.analytics(period))
    return render(request, "dam/reports.html", context, status=422 if period_error else 200)


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def error_400(request, exception=None):
    if _wants_json(request):
        return error_response(400, "The request could not be understood.")
    return render(request, "errors/400.html", status=400)


def error_403(request, exception=None):
    detail = (
        str(exception) if exception and str(exception) else "You do not have access to do that."
    )
    if _wants_json(request):
        return error_response(403, detail)
    return render(request, "errors/403.html", {"detail": detail}, status=403)


def csrf_failure(request, reason=""):
    detail = "Your form expired or came from another site. Reload the page and try again."
    if _wants_json(request):
        return error_response(403, detail, "csrf_failed")
    return render(request, "errors/403.html", {"detail": detail}, status=403)


def error_404(request, exception=None):
    if _wants_json(request):
        return error_response(404, "Not found.")
    return render(request, "errors/404.html", status=404)


def error_500(request):
    if _wants_json(request):
        return error_response(500, "Something went wrong on our side; it has been logged.")
    return render(request, "errors/500.html", status=500)


@login_required
def notifications(request):
    """The user's notifications, newest first; opening the page marks them read (and a
    POST marks them read without leaving)."""
    from django.core.paginator import Paginator

    from dam.models import Notification
    from dam.services import notifications_mark_read

    rows = Notification.objects.filter(user=request.user)
    page = Paginator(rows, 30).get_page(request.GET.get("page"))
    items = list(page.object_list)
    unread = [n.pk for n in items if n.read_at is None]
    if unread:
        notifications_mark_read(user=request.user, ids=unread)
    if request.method == "POST":
        notifications_mark_read(user=request.user)
        return redirect("notifications")
    context = {"page": page, "items": items, "unread": set(unread)}
    return render(request, "dam/notifications.html", context)
