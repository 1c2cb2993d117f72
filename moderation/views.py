"""The Moderation page and the approve/reject actions (thin: validate, call services)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts import policy
from dam.errors import ServiceError
from dam.text import plural as _plural
from moderation import selectors, services
from moderation.models import Check

PAGE_SIZE = 50


def _moderator(request):
    if not policy.can_moderate_somewhere(request.user):
        raise Http404("No such page.")
    return request.user


@login_required
@require_GET
def queue(request):
    user = _moderator(request)
    status = request.GET.get("status", "pending")
    status = status if status in (*selectors.STATUSES, "all") else "pending"
    kind = request.GET.get("kind", "")
    kind = kind if kind in selectors.KINDS else ""
    check = request.GET.get("check", "")
    check = check if check in Check.values else ""
    rows = selectors.queue(
        user=user, status="" if status == "all" else status, kind=kind, check=check
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    selectors.attach_decisions(page.object_list)
    context = {
        "page": page,
        "assets": page.object_list,
        "status": status,
        "kind": kind,
        "check": check,
        "statuses": [
            ("pending", "Pending"),
            ("approved", "Approved"),
            ("rejected", "Rejected"),
            ("all", "All"),
        ],
        "kinds": [("", "Any"), ("manual", "Manual"), ("auto", "Automatic")],
        "checks": [("", "Any check"), *Check.choices],
        "back": request.get_full_path(),
    }
    return render(request, "moderation/queue.html", context)


def _ids(request) -> list[int]:
    return policy.valid_ids(request.POST.getlist("ids"))


def _back(request):
    target = request.POST.get("next", "")
    # A path on this site (the forms send one); redirect() would take other text for a
    # view name to reverse, and fail.
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    if target.startswith("/") and safe:
        return HttpResponseRedirect(target)
    return redirect("moderation")


def _versions(request) -> dict[int, int]:
    """{asset id: version} from `version_<id>` fields: what the moderator looked at."""
    seen = {}
    for key, value in request.POST.items():
        pk = key.removeprefix("version_")
        valid = key.startswith("version_") and policy.is_valid_id(pk)
        if valid and value.isascii() and value.isdigit() and len(value) < 10:
            seen[int(pk)] = int(value)
    return seen


def decide_from_request(request, user, ids) -> None:
    """Shared by the queue, the library grid and the asset page: one decision on the
    chosen assets, and a message saying what happened."""
    decision = request.POST.get("decision", "")
    if not ids:
        messages.error(request, "Select at least one asset first.")
        return
    try:
        result = services.decide_many(
            actor=user,
            ids=ids,
            decision=decision,
            reason=request.POST.get("reason", ""),
            versions=_versions(request),
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return
    if result["done"]:
        verb = "Approved" if decision == "approve" else "Rejected"
        messages.success(request, f"{verb} {_plural(len(result['done']), 'asset')}.")
    if result["failed"]:
        reasons = " ".join(sorted(set(result["failed"].values())))
        messages.error(
            request, f"{_plural(len(result['failed']), 'asset')} could not be changed: {reasons}"
        )


@login_required
@require_POST
def decide(request):
    user = _moderator(request)
    decide_from_request(request, user, _ids(request))
    return _back(request)
