"""`/d/{public_id}` and `/d/{transformation}/{public_id}` (API.md "Delivery"): thin, over
assets.delivery (who may fetch) and assets.delivery_services (renditions, responses)."""

from __future__ import annotations

import re

from django.http import Http404, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from accounts import policy
from assets import delivery, delivery_selectors, delivery_services
from dam.errors import error_body

# A public ID's first segment never looks like this (services.PUBLIC_ID_RE), so a first
# segment that does is a transformation.
TRANSFORMATION_RE = re.compile(r"^[a-z]{1,2}_[^/]*$")
PUBLIC_SECONDS = 3600  # access can change: shared caches keep an answer an hour at most


def _error(status: int, detail: str) -> JsonResponse:
    response = JsonResponse(error_body(status, detail), status=status)
    response["Cache-Control"] = "no-store"
    return response


def _split(rest: str) -> tuple[str, str]:
    first, _, remainder = rest.partition("/")
    if remainder and TRANSFORMATION_RE.match(first):
        return first, remainder
    return "", rest


def _public_cache(asset, now) -> str:
    """Shared caches may keep a public answer for an hour, or until the asset stops
    being public (its window ends or it expires), whichever is sooner."""
    ends = [t for t in (asset.public_until, asset.expires_at) if t is not None]
    seconds = min([PUBLIC_SECONDS, *(int((t - now).total_seconds()) for t in ends)])
    return f"public, max-age={seconds}" if seconds > 0 else "no-store"


@require_safe
def deliver(request, rest: str):
    transformation, public_id = _split(rest)
    asset = delivery_selectors.asset_by_public_id(public_id)
    token = request.GET.get("token")
    now = timezone.now()
    if token is not None:
        expires = request.GET.get("expires")
        valid = asset is not None and delivery.token_valid(
            asset, transformation, expires, token, now=now
        )
        if not valid:  # a missing asset answers alike: tokens never probe for IDs
            return _error(403, "This link has expired or is not valid for this file.")
        if not policy.delivery_signable(asset):  # trashed, rejected, pending, processing
            return _error(404, "No such asset.")
        left = int(expires) - int(now.timestamp())
        cache = f"private, max-age={max(0, min(PUBLIC_SECONDS, left))}"
    else:
        if asset is None or not policy.delivery_public_now(asset, now):
            return _error(404, "No such asset.")  # restricted, pending, expired: unrevealed
        if transformation and not all(p.startswith("t_") for p in transformation.split(",")):
            return _error(
                403,
                "Unsigned delivery URLs take only named presets (t_NAME); "
                "sign a URL for other transformations.",
            )
        cache = _public_cache(asset, now)
    try:
        t = delivery.parse(transformation, presets=delivery_selectors.preset_map())
    except delivery.BadTransformation as exc:
        return _error(400, exc.message)
    accept = request.headers.get("Accept", "")
    fmt = None if t.empty else delivery.output_format(t, asset.format, accept)
    try:
        return delivery_services.delivery_response(request, asset, t, fmt, cache)
    except delivery.BadTransformation as exc:
        return _error(400, exc.message)
    except Http404:
        return _error(404, "No such file.")
