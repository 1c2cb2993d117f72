"""Settings → Metadata (master admins), and the live metadata form's re-render endpoint.

Thin: read the request, call metadata.services, render. Non-master admins get 404 on the
settings pages (they do not exist for them).
"""

from __future__ import annotations

import json
import re
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts import policy
from accounts.policy import Level
from dam.errors import ServiceError
from metadata import engine, forms, rule_forms, selectors, services
from metadata.models import FieldType, MetadataField, MetadataRule

VALUES_PAGE = 100
CTX_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


# -- the live form --------------------------------------------------------------------
@login_required
@require_POST
def form_render(request):
    """Re-render the fields partial for what the user has entered so far."""
    user = request.user
    if not policy.can_use_library(user):
        raise Http404("No such page.")
    data = request.POST
    mode, ctx = data.get("md-mode", ""), data.get("md-ctx", "md")
    if mode not in forms.MODE_DEFAULTS or not CTX_RE.match(ctx):
        return HttpResponseBadRequest("Unknown form.")
    schema = selectors.schema_get()
    state = form_state_for(request, schema, mode=mode, ctx=ctx, data=data)
    return render(request, "metadata/_fields.html", {"md": state})


@login_required
@require_POST
def options_search(request):
    """A long list's picker: the offered options (under the rules, for what the form holds
    now) whose label contains what was typed."""
    user = request.user
    if not policy.can_use_library(user):
        raise Http404("No such page.")
    data = request.POST
    mode, ctx = data.get("md-mode", ""), data.get("md-ctx", "md")
    if mode not in forms.MODE_DEFAULTS or not CTX_RE.match(ctx):
        return HttpResponseBadRequest("Unknown form.")
    key = data.get("md-field", "")
    state = form_state_for(request, selectors.schema_get(), mode=mode, ctx=ctx, data=data)
    row = next((r for r in state.rows if r.field.external_id == key and r.field.is_list), None)
    if row is None:  # hidden by the rules meanwhile, or no such field
        return render(request, "metadata/_results.html", {"row": None, "results": [], "total": 0})
    results, total = row.search(data.get(f"md-q-{key}", ""))
    return render(
        request, "metadata/_results.html", {"row": row, "results": results, "total": total}
    )


def _ids(values) -> list[int]:
    return policy.valid_ids(values)[:500]


def bulk_selection(user, ids) -> list:
    """The selected assets the user may edit (others are skipped, never named)."""
    from assets.models import Asset

    return list(
        policy.visible_assets(user, Asset.objects.all(), minimum=Level.EDIT)
        .filter(pk__in=_ids(ids))
        .only("pk", "metadata", "ancestors")
    )


def form_state_for(request, schema, *, mode, ctx, data=None, errors=None):
    """The form for an asset (edit), a folder's uploads (upload) or a selection (bulk)."""
    user = request.user
    source = data if data is not None else request.POST
    if mode == "edit":
        asset = policy.get_asset_or_404(user, source.get("md-asset"), minimum=Level.EDIT)
        return forms.form_state(
            schema,
            mode=mode,
            ctx=ctx,
            base=asset.metadata,
            data=data,
            held=asset.metadata,
            errors=errors,
            params={"md-asset": asset.pk},
        )
    if mode == "upload":
        folder = policy.get_folder_or_404(user, source.get("md-folder"), minimum=Level.EDIT)
        return forms.form_state(
            schema,
            mode=mode,
            ctx=ctx,
            base={},
            data=data,
            errors=errors,
            params={"md-folder": folder.pk},
        )
    assets = bulk_selection(user, source.getlist("ids"))
    common, mixed = forms.common_values(schema, [a.metadata for a in assets])
    return forms.form_state(
        schema,
        mode="bulk",
        ctx=ctx,
        base=common,
        data=data,
        held=common,
        errors=errors,
        mixed=mixed,
    )


# -- Settings → Metadata ------------------------------------------------------------------
def manager_only(view):
    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not policy.can_manage_metadata(request.user):
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapped


def _context(**extra) -> dict:
    return {"settings_tab": "metadata", "nav_active": "settings", **extra}


def _field_or_404(external_id) -> MetadataField:
    field = selectors.field_get(external_id)
    if field is None:
        raise Http404("No such field.")
    return field


def _detail_url(field: MetadataField, anchor: str = "") -> str:
    return reverse("metadata:field", args=[field.external_id]) + (f"#{anchor}" if anchor else "")


@manager_only
@require_http_methods(["GET"])
def fields_page(request):
    return render(request, "metadata/fields.html", _context(fields=list(selectors.fields_listed())))


def _bool(data, name) -> bool:
    return data.get(name) in ("on", "true", "1")


def _bound(data, name):
    text = data.get(name, "").strip()
    return text or None


def _default_from_post(field_type: str, data, prefix: str = "default"):
    if field_type == FieldType.SET:
        return [v for v in data.getlist(f"{prefix}_values") if v] or None
    text = data.get(prefix, "").strip()
    return text or None


@manager_only
@require_http_methods(["GET", "POST"])
def field_create(request):
    data = request.POST
    errors: dict[str, str] = {}
    if request.method == "POST":
        kind = data.get("type", "")
        values = None
        if kind in engine.LIST_TYPES:
            lines = [line.strip() for line in data.get("values", "").splitlines()]
            values = [{"label": line} for line in lines if line] or None
        default = data.get("default", "").strip() or None
        if default and kind == FieldType.SET:
            default = [piece.strip() for piece in default.split(",") if piece.strip()]
        try:
            field = services.field_create(
                actor=request.user,
                label=data.get("label", ""),
                type=kind,
                external_id=data.get("external_id", "").strip() or None,
                mandatory=_bool(data, "mandatory"),
                hidden=_bool(data, "hidden"),
                default=default,
                min=_bound(data, "min"),
                max=_bound(data, "max"),
                values=values,
            )
        except ServiceError as exc:
            errors[exc.field or "form"] = exc.message
        else:
            messages.success(request, f"Field “{field.label}” created.")
            return redirect(_detail_url(field))
    return render(
        request,
        "metadata/field_new.html",
        # `values_text`, not `data.values`: the template would call QueryDict.values().
        _context(
            data=data,
            values_text=data.get("values", ""),
            errors=errors,
            types=FieldType.choices,
        ),
        status=422 if errors else 200,
    )


def _detail_context(request, field: MetadataField, **extra) -> dict:
    schema = selectors.schema_get()
    definitions = schema.by_id
    rules = selectors.field_rules(field)
    query = request.GET.get("q", "")
    values_page = None
    if field.is_list:
        values_page = Paginator(selectors.field_values(field, query), VALUES_PAGE).get_page(
            request.GET.get("page")
        )
    data = extra.get("data")
    if data is not None:
        default_text = data.get("default", "")
        default_selected = set(data.getlist("default_values"))
    else:
        default_text = "" if field.default is None or field.is_list else str(field.default)
        default_selected = {str(v) for v in engine._as_list(field.default)}
    return _context(
        field=field,
        default_text=default_text,
        default_selected=default_selected,
        definition=definitions.get(field.external_id),
        options=[o for o in definitions[field.external_id].options if not o.blocked],
        rules=[(r, services.rule_summary(r, definitions)) for r in rules],
        dependents=selectors.rules_depending_on(field),
        values_page=values_page,
        values_query=query,
        assets_using=services.assets_using(field),
        assets_using_limit=services.USING_COUNTED,
        **extra,
    )


@manager_only
@require_http_methods(["GET", "POST"])
def field_detail(request, external_id: str):
    field = _field_or_404(external_id)
    errors: dict[str, str] = {}
    if request.method == "POST":
        data = request.POST
        changes = {
            "label": data.get("label", ""),
            "mandatory": _bool(data, "mandatory"),
            "hidden": _bool(data, "hidden"),
            "default": _default_from_post(field.type, data),
        }
        if not field.is_list:
            changes["min"], changes["max"] = _bound(data, "min"), _bound(data, "max")
        try:
            services.field_update(actor=request.user, field=field, **changes)
        except ServiceError as exc:
            errors[exc.field or "form"] = exc.message
        else:
            messages.success(request, f"Field “{changes['label'].strip()}” saved.")
            return redirect(_detail_url(field))
        field.refresh_from_db()
        context = _detail_context(request, field, errors=errors, data=data, edited=True)
        return render(request, "metadata/field_detail.html", context, status=422)
    return render(request, "metadata/field_detail.html", _detail_context(request, field))


@manager_only
@require_POST
def field_delete(request, external_id: str):
    field = _field_or_404(external_id)
    try:
        services.field_delete(actor=request.user, field=field)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(_detail_url(field))
    messages.success(request, f"Field “{field.label}” deleted.")
    return redirect("metadata:fields")


_MOVES = ("top", "up", "down", "bottom")


def _target_position(current: int, count: int, to: str) -> int:
    """1-based position for a move button (current is 0-based)."""
    return {"top": 1, "up": current, "down": current + 2, "bottom": count}[to]


@manager_only
@require_POST
def field_move(request, external_id: str):
    field = _field_or_404(external_id)
    to = request.POST.get("to", "")
    if to not in _MOVES:
        return HttpResponseBadRequest("Unknown move.")
    count = MetadataField.objects.count()
    position = max(1, min(_target_position(field.position, count, to), count))
    services.field_update(actor=request.user, field=field, position=position)
    messages.success(request, f"Moved “{field.label}”.")
    return redirect("metadata:fields")


def _json_order(request) -> list | None:
    try:
        order = json.loads(request.body or b"null")
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        return None
    return order.get("order") if isinstance(order, dict) else None


@manager_only
@require_POST
def fields_reorder(request):
    """Drag and drop: the whole list's external IDs in the new order (JSON)."""
    order = _json_order(request)
    try:
        services.fields_reorder(actor=request.user, order=order)
    except ServiceError as exc:
        return JsonResponse({"detail": exc.message, "code": exc.code}, status=exc.status)
    return JsonResponse({"order": order})


# -- list values -----------------------------------------------------------------------------
@manager_only
@require_POST
def value_add(request, external_id: str):
    field = _field_or_404(external_id)
    data = request.POST
    try:
        value = services.value_create(
            actor=request.user,
            field=field,
            label=data.get("label", ""),
            external_id=data.get("external_id", "").strip() or None,
        )
    except ServiceError as exc:
        context = _detail_context(request, field, value_error=exc.message, value_data=data)
        return render(request, "metadata/field_detail.html", context, status=422)
    messages.success(request, f"Value “{value.label}” added to {field.label}.")
    return redirect(_detail_url(field, "values"))


def _value_or_404(field, value_id):
    value = selectors.value_get(field, value_id)
    if value is None:
        raise Http404("No such value.")
    return value


def _values_back(request, field):
    query = {k: request.POST.get(k) for k in ("q", "page") if request.POST.get(k)}
    suffix = ("?" + "&".join(f"{k}={v}" for k, v in query.items())) if query else ""
    return redirect(reverse("metadata:field", args=[field.external_id]) + suffix + "#values")


@manager_only
@require_http_methods(["GET", "POST"])
def value_edit(request, external_id: str, value_id: str):
    """GET: the row as an inline rename form (htmx); POST: rename, block, unblock, move."""
    field = _field_or_404(external_id)
    value = _value_or_404(field, value_id)
    if request.method == "GET":
        return render(request, "metadata/_value_edit_row.html", {"field": field, "v": value})
    data = request.POST
    action = data.get("action", "")
    changes: dict = {}
    if action == "rename":
        changes["label"] = data.get("label", "")
    elif action in ("block", "unblock"):
        changes["blocked"] = action == "block"
    elif action in _MOVES:
        count = field.values.count()
        changes["position"] = max(1, min(_target_position(value.position, count, action), count))
    elif action == "position":
        try:
            changes["position"] = int(data.get("position", ""))
        except ValueError:
            messages.error(request, "Enter a position number.")
            return _values_back(request, field)
    else:
        return HttpResponseBadRequest("Unknown action.")
    try:
        value = services.value_update(actor=request.user, value=value, **changes)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        done = {
            "rename": f"Renamed to “{value.label}”.",
            "block": f"“{value.label}” is blocked: no longer offered, kept on assets.",
            "unblock": f"“{value.label}” is offered again.",
        }
        messages.success(request, done.get(action, f"Moved “{value.label}”."))
    return _values_back(request, field)


# -- rules -----------------------------------------------------------------------------------
def _rule_or_404(rule_id: int) -> MetadataRule:
    rule = (
        MetadataRule.objects.select_related("field")
        .filter(pk=rule_id, field__deleted_at__isnull=True)
        .first()
    )
    if rule is None:
        raise Http404("No such rule.")
    return rule


def _rule_page(request, field, rule, form, error="", status=200):
    context = _context(
        field=field,
        rule=rule,
        form=form,
        error=error,
        op_labels=rule_forms.OP_LABELS,
        list_types=engine.LIST_TYPES,
    )
    return render(request, "metadata/rule_form.html", context, status=status)


def _rule_editor(request, field: MetadataField, rule: MetadataRule | None):
    schema = selectors.schema_get()
    target = schema.by_id[field.external_id]
    if request.method == "GET":
        return _rule_page(request, field, rule, rule_forms.form_from_rule(schema, target, rule))
    form = rule_forms.form_from_post(schema, target, request.POST)
    if "save" not in request.POST:  # add / remove a condition, or a field changed: redraw
        return _rule_page(request, field, rule, form)
    try:
        if rule is None:
            saved = services.rule_create(actor=request.user, field=field, **form.as_rule_data())
        else:
            saved = services.rule_update(actor=request.user, rule=rule, **form.as_rule_data())
    except ServiceError as exc:
        return _rule_page(request, field, rule, form, error=exc.message, status=422)
    messages.success(request, f"Rule “{saved.name}” saved.")
    return redirect(_detail_url(field, "rules"))


@manager_only
@require_http_methods(["GET", "POST"])
def rule_create(request, external_id: str):
    return _rule_editor(request, _field_or_404(external_id), None)


@manager_only
@require_http_methods(["GET", "POST"])
def rule_edit(request, rule_id: int):
    rule = _rule_or_404(rule_id)
    return _rule_editor(request, rule.field, rule)


@manager_only
@require_POST
def rule_delete(request, rule_id: int):
    rule = _rule_or_404(rule_id)
    try:
        services.rule_delete(actor=request.user, rule=rule)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Rule “{rule.name}” deleted.")
    return redirect(_detail_url(rule.field, "rules"))


@manager_only
@require_POST
def rule_move(request, rule_id: int):
    rule = _rule_or_404(rule_id)
    to = request.POST.get("to", "")
    if to not in _MOVES:
        return HttpResponseBadRequest("Unknown move.")
    count = rule.field.rules.count()
    position = max(1, min(_target_position(rule.position, count, to), count))
    services.rule_update(actor=request.user, rule=rule, position=position)
    messages.success(request, f"Moved “{rule.name}”.")
    return redirect(_detail_url(rule.field, "rules"))


@manager_only
@require_POST
def rules_reorder(request, external_id: str):
    field = _field_or_404(external_id)
    order = _json_order(request)
    try:
        services.rules_reorder(actor=request.user, field=field, order=order)
    except ServiceError as exc:
        return JsonResponse({"detail": exc.message, "code": exc.code}, status=exc.status)
    return JsonResponse({"order": order})
