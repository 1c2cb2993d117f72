"""Pages of delivery: the asset page's "Access and delivery" card (its context, the
access form, signed URLs) and Settings → Delivery presets. Thin, over assets.delivery,
assets.delivery_services and assets.services."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts import policy
from accounts.policy import Level
from assets import delivery, delivery_selectors, delivery_services, services
from assets.models import AccessMode

EXPIRY_CHOICES = (
    (3600, "1 hour"),
    (86400, "1 day"),
    (7 * 86400, "7 days"),
    (30 * 86400, "30 days"),
    (365 * 86400, "1 year"),
)
TIME_FIELDS = ("public_from", "public_until", "expires_at")


def delivery_context(user, asset, level) -> dict:
    """What the asset page's delivery card shows this user."""
    can_deliver = policy.can_use_delivery_urls(user)
    presets = delivery_selectors.presets() if can_deliver else []
    public = delivery.public_now(asset)
    base = settings.DAM_BASE_URL.rstrip("/")
    urls = []
    if can_deliver and public:
        urls.append(("Original", base + delivery.delivery_path(asset)))
        urls += [
            (f"t_{p.name}", base + delivery.delivery_path(asset, f"t_{p.name}")) for p in presets
        ]
    return {
        "delivery_mode": delivery.effective_mode(asset),
        "delivery_public": public,
        "can_deliver": can_deliver,
        "can_change_access": can_deliver and level >= Level.EDIT,
        "can_sign": can_deliver and level >= Level.VIEW,
        "delivery_urls": urls,
        "delivery_presets": presets,
        "expiry_choices": EXPIRY_CHOICES,
    }


def _parse_time(value: str, field: str):
    """A datetime-local value, read as UTC (the app shows times in UTC); empty: None."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise services.ValidationFailed("Enter a date and time.", field=field) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _asset_page(request, asset, status=200, **extra):
    from assets.views import _came_from_collection, _detail_context

    context = _detail_context(request, asset, **extra)
    context.update(_came_from_collection(request, request.user, asset))
    return render(request, "assets/asset_detail.html", context, status=status)


@login_required
@require_POST
def asset_access(request, asset_id: int):
    """Access mode, public window and expiry (edit level and the delivery-URL permission:
    the service checks both)."""
    user = request.user
    asset = policy.get_asset_or_404(user, asset_id, minimum=Level.EDIT)
    if not policy.can_use_delivery_urls(user):
        raise PermissionDenied("Changing access control needs the delivery-URL permission.")
    data = request.POST
    try:
        mode = data.get("access_mode", "")
        if mode not in AccessMode.values:
            raise services.ValidationFailed("Choose public or restricted.", field="access_mode")
        times = {f: _parse_time(data.get(f, ""), f) for f in TIME_FIELDS}
        services.asset_update(actor=user, asset=asset, access_mode=mode, **times)
    except services.ServiceError as exc:
        asset.refresh_from_db()
        errors = {exc.field or "access_mode": exc.message}
        return _asset_page(request, asset, 422, access_errors=errors, access_data=data)
    messages.success(request, "Access saved.")
    return redirect("assets:detail", asset_id=asset.pk)


@login_required
@require_POST
def asset_signed_url(request, asset_id: int):
    """A signed URL (works for restricted assets until it expires), shown on the page."""
    user = request.user
    asset = policy.get_asset_or_404(user, asset_id, minimum=Level.COLLECTION)
    if not policy.can_use_delivery_urls(user):
        raise PermissionDenied("Signed URLs need the delivery-URL permission.")
    data = request.POST
    choice = data.get("transformation", "")
    text = data.get("custom", "") if choice == "custom" else choice
    try:
        expires_in = int(data.get("expires_in", "3600"))
    except ValueError:
        expires_in = 0
    try:
        signed = delivery_services.signed_url_create(
            actor=user, asset=asset, expires_in=expires_in, transformation=text
        )
    except services.ServiceError as exc:
        errors = {exc.field or "transformation": exc.message}
        extra = {"signed_errors": errors, "signed_data": data}
        if request.htmx:
            return _signed_card(request, asset, 422, **extra)
        return _asset_page(request, asset, 422, **extra)
    if request.htmx:
        return _signed_card(request, asset, signed=signed, signed_data=data)
    return _asset_page(request, asset, signed=signed, signed_data=data)


def _signed_card(request, asset, status=200, **extra):
    level = policy.access_for(request.user).asset_level(asset)
    context = {"asset": asset, **delivery_context(request.user, asset, level), **extra}
    return render(request, "assets/_signed_url.html", context, status=status)


# -- Settings → Delivery presets (admins) ----------------------------------------------
def _admin(request):
    if not policy.is_admin_role(request.user):
        raise Http404("No such page.")
    return request.user


def _presets_page(request, status=200, **extra):
    context = {
        "settings_tab": "delivery",
        "presets": delivery_selectors.presets(),
        "example_id": "PUBLIC_ID",
        "base_url": settings.DAM_BASE_URL.rstrip("/"),
        **extra,
    }
    return render(request, "assets/delivery_presets.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def delivery_presets(request):
    user = _admin(request)
    if request.method == "GET":
        return _presets_page(request)
    data = request.POST
    try:
        preset = delivery_services.preset_create(
            actor=user, name=data.get("name"), transformation=data.get("transformation")
        )
    except services.ServiceError as exc:
        errors = {exc.field or "name": exc.message}
        return _presets_page(request, 422, create_errors=errors, create_data=data)
    messages.success(request, f"Preset t_{preset.name} created.")
    return redirect("assets:delivery_presets")


@login_required
@require_POST
def delivery_preset_edit(request, name: str):
    user = _admin(request)
    preset = delivery_selectors.preset_or_404(name)
    try:
        delivery_services.preset_update(
            actor=user, preset=preset, transformation=request.POST.get("transformation")
        )
    except services.ServiceError as exc:
        return _presets_page(request, 422, edit_errors={preset.name: exc.message})
    messages.success(request, f"Preset t_{preset.name} saved.")
    return redirect("assets:delivery_presets")


@login_required
@require_POST
def delivery_preset_delete(request, name: str):
    user = _admin(request)
    preset = delivery_selectors.preset_or_404(name)
    delivery_services.preset_delete(actor=user, preset=preset)
    messages.success(request, f"Preset t_{name} deleted.")
    return redirect("assets:delivery_presets")
