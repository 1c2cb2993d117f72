"""`/d/{public_id}` and `/d/{transformation}/{public_id}` (API.md "Delivery"): thin, over
assets.delivery (who may fetch) and assets.delivery_services (renditions, responses)."""

from __future__ import annotations

import re

from django.http import Http404, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from assets import delivery, delivery_selectors, delivery_services
from dam.errors import error_body

# A public ID's first segment never looks like this (services.PUBLIC_ID_RE), so a first
# segment that does is a transformation.
TRANSFORMATION_RE = re.compile(r"^[a-z]{1,2}_[^/]*$")
PUBLIC_CACHE = "public, max-age=3600"  # access can change: an hour, not forever


def _error(status: int, detail: str) -> JsonResponse:
    response = JsonResponse(error_body(status, detail), status=status)
    response["Cache-Control"] = "no-store"
    return response


def _split(rest: str) -> tuple[str, str]:
    first, _, remainder = rest.partition("/")
    if remainder and TRANSFORMATION_RE.match(first):
        return first, remainder
    return "", rest


@require_safe
def deliver(request, rest: str):
    transformation, public_id = _split(rest)
    asset = delivery_selectors.asset_by_public_id(public_id)
    if asset is None:
        raise Http404("No such asset.")
    token = request.GET.get("token")
    now = timezone.now()
    if token is not None:
        expires = request.GET.get("expires")
        if not delivery.token_valid(asset, transformation, expires, token, now=now):
            return _error(403, "This link has expired or is not valid for this file.")
        cache = f"private, max-age={max(0, min(3600, int(expires) - int(now.timestamp())))}"
    else:
        if not delivery.public_now(asset, now):
            raise Http404("No such asset.")  # restricted, pending, expired: never revealed
        if transformation and not all(p.startswith("t_") for p in transformation.split(",")):
            return _error(
                403,
                "Unsigned delivery URLs take only named presets (t_NAME); "
                "sign a URL for other transformations.",
            )
        cache = PUBLIC_CACHE
    try:
        t = delivery.parse(transformation, presets=delivery_selectors.preset_map())
    except delivery.BadTransformation as exc:
        return _error(400, exc.message)
    if asset.processing_status != "ready" and not t.empty:
        return _error(409, "The file is still being processed; try again in a moment.")
    fmt = (
        None
        if t.empty
        else delivery.output_format(t, asset.format, request.headers.get("Accept", ""))
    )
    try:
        return delivery_services.delivery_response(request, asset, t, fmt, cache)
    except delivery.BadTransformation as exc:
        return _error(400, exc.message)
