"""Settings → Automation: rules, their runs and the assets each run touched (admin
roles only; everyone else gets 404). Thin: validate, call assets.automation, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import policy
from assets import automation
from assets.automation_forms import RuleForm, rule_initial
from assets.models import AutomationRunItem
from metadata import selectors as metadata_selectors

RUNS_PER_PAGE = 20
ITEMS_SHOWN = 10  # touched assets listed under each run on the rule page
ITEMS_PER_PAGE = 50


def _admin(request):
    if not policy.can_manage_automation(request.user):
        raise Http404("No such page.")
    return request.user


def _rule_or_404(rule_id):
    rule = automation.rule_get(rule_id)
    if rule is None:
        raise Http404("No such rule.")
    return rule


def _context(**extra) -> dict:
    return {"settings_tab": "automation", "nav_active": "settings", **extra}


@login_required
@require_GET
def rules_page(request):
    _admin(request)
    schema = metadata_selectors.schema_get()
    rules = [
        (rule, automation.describe_trigger(rule, schema), automation.describe_actions(rule.actions))
        for rule in automation.rules_listed()
    ]
    return render(request, "assets/automation_rules.html", _context(rules=rules))


def _save(request, form, rule=None):
    """Validate through the service; its field errors land on the form."""
    data = form.service_data()
    if data is None:
        return None
    try:
        if rule is None:
            return automation.automation_rule_create(actor=request.user, **data)
        return automation.automation_rule_update(actor=request.user, rule=rule, **data)
    except automation.ServiceError as exc:
        form.add_service_error(exc)
        return None


def _form_page(request, rule=None):
    _admin(request)
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    schema = metadata_selectors.schema_get()
    initial = rule_initial(rule) if rule else {"days_ahead": 0, "email_to": "uploader"}
    form = RuleForm(request.POST or None, initial=initial, schema=schema)
    if request.method == "POST" and form.is_valid():
        saved = _save(request, form, rule)
        if saved is not None:
            verb = "created" if rule is None else "saved"
            messages.success(request, f"Rule “{saved.name}” {verb}.")
            return redirect("automation:rule", rule_id=saved.pk)
    status = 422 if request.method == "POST" else 200
    return render(
        request, "assets/automation_form.html", _context(form=form, rule=rule), status=status
    )


@login_required
def rule_create(request):
    return _form_page(request)


@login_required
def rule_edit(request, rule_id: int):
    _admin(request)
    return _form_page(request, _rule_or_404(rule_id))


@login_required
@require_GET
def rule_detail(request, rule_id: int):
    _admin(request)
    rule = _rule_or_404(rule_id)
    touched = AutomationRunItem.objects.select_related("asset").order_by("id")
    runs = automation.rule_runs(rule).prefetch_related(
        Prefetch("items", queryset=touched[:ITEMS_SHOWN], to_attr="first_items")
    )
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = _context(
        rule=rule,
        trigger=automation.describe_trigger(rule),
        actions=automation.describe_actions(rule.actions),
        page=page,
        items_shown=ITEMS_SHOWN,
    )
    return render(request, "assets/automation_rule.html", context)


@login_required
@require_GET
def run_detail(request, rule_id: int, run_id: int):
    _admin(request)
    rule = _rule_or_404(rule_id)
    run = automation.rule_runs(rule).filter(pk=run_id).first() if run_id else None
    if run is None:
        raise Http404("No such run.")
    page = Paginator(automation.run_items(run), ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "assets/automation_run.html", _context(rule=rule, run=run, page=page))


@login_required
@require_POST
def rule_pause(request, rule_id: int):
    user = _admin(request)
    rule = _rule_or_404(rule_id)
    paused = request.POST.get("paused") == "1"
    rule = automation.automation_rule_pause(actor=user, rule=rule, paused=paused)
    messages.success(request, f"Rule “{rule.name}” {'paused' if paused else 'resumed'}.")
    if request.POST.get("next") == "list":
        return redirect("automation:rules")
    return redirect("automation:rule", rule_id=rule.pk)


@login_required
@require_POST
def rule_delete(request, rule_id: int):
    user = _admin(request)
    rule = _rule_or_404(rule_id)
    name = rule.name
    automation.automation_rule_delete(actor=user, rule=rule)
    messages.success(request, f"Rule “{name}” deleted.")
    return redirect("automation:rules")


@login_required
@require_POST
def rule_run(request, rule_id: int):
    user = _admin(request)
    rule = _rule_or_404(rule_id)
    try:
        automation.automation_run_request(actor=user, rule=rule)
        messages.success(request, "Run queued; it shows below when it has started.")
    except automation.ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("automation:rule", rule_id=rule.pk)
