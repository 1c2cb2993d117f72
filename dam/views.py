from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from accounts import policy
from accounts.models import User
from assets.models import Asset, AssetVersion, Rendition
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
    """Library totals; the full dashboard is built on the same figures."""
    if not policy.can_see_reports(request.user):
        raise Http404("No such page.")
    by_type = dict(Asset.objects.values_list("type").annotate(n=Count("id")).order_by())
    context = {
        "by_type": by_type,
        "asset_count": sum(by_type.values()),
        "original_bytes": AssetVersion.objects.aggregate(s=Sum("bytes"))["s"] or 0,
        "rendition_bytes": Rendition.objects.aggregate(s=Sum("bytes"))["s"] or 0,
        "users_by_status": dict(
            User.objects.values_list("status").annotate(n=Count("id")).order_by()
        ),
    }
    context["user_count"] = sum(context["users_by_status"].values())
    return render(request, "dam/reports.html", context)


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
