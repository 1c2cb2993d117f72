"""Delivery (API.md "Delivery", DESIGN.md "Protection and delivery"): who may fetch an
asset's bytes by URL, the transformation language of those URLs, and signed URLs.

`/d/{public_id}` and `/d/{transformation}/{public_id}` serve the current version. An
asset is delivered to anyone while it is publicly deliverable (`public_now`); otherwise
only with a signed token bound to the asset, its current version, the transformation and
an expiry. Strict transformations: an unsigned URL may only name a preset (`t_NAME`) or
none, so nobody can make the server render endless variants; a signed URL may carry any
transformation the signer chose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts import policy
from assets.models import Asset
from dam.errors import ValidationFailed

CROPS = ("fill", "fit", "limit", "scale")
FORMATS = ("jpg", "png", "webp", "auto")
MAX_EDGE = 4000  # the largest width or height a transformation may ask for
SIGNED_MAX_SECONDS = 366 * 24 * 3600  # a signed URL lasts at most a year
PRESET_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
PART_RE = re.compile(r"^(w|h|c|f|q|t)_(.+)$")
# Types a browser could run or render as a page: always downloaded, never shown inline.
ATTACHMENT_FORMATS = {"svg", "html", "htm", "xml", "xhtml", "js", "pdf"}


class BadTransformation(ValidationFailed):
    """A transformation string that does not parse: a 400 on delivery URLs, a 422 field
    error in the API and forms."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="transformation")


@dataclass(frozen=True)
class Transformation:
    width: int | None = None
    height: int | None = None
    crop: str = ""  # fill | fit | limit | scale; "" = limit
    format: str = ""  # jpg | png | webp | auto; "" = the original's (or JPEG)
    quality: int | None = None  # 1..100; None = auto
    preset: str = ""  # t_NAME as written (its parts are filled in)

    @property
    def empty(self) -> bool:
        return not (self.width or self.height or self.crop or self.format or self.quality)

    def canonical(self) -> str:
        """One spelling per transformation, in a fixed order (the rendition's key)."""
        parts = []
        if self.width:
            parts.append(f"w_{self.width}")
        if self.height:
            parts.append(f"h_{self.height}")
        if self.crop:
            parts.append(f"c_{self.crop}")
        if self.format:
            parts.append(f"f_{self.format}")
        if self.quality:
            parts.append(f"q_{self.quality}")
        return ",".join(parts)


def _int(value: str, what: str, low: int, high: int) -> int:
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise BadTransformation(f"{what} is a whole number from {low} to {high}.")
    return int(value)


def parse(text: str, *, presets: dict[str, str] | None = None) -> Transformation:
    """`w_400,h_300,c_fill,f_webp,q_80` or `t_NAME` (a named preset; `presets` maps
    names to their own transformation strings, which may not name presets again)."""
    if not isinstance(text, str) or len(text) > 200 or "\x00" in text:
        raise BadTransformation("A transformation has at most 200 characters.")
    text = text.strip()
    if not text:
        return Transformation()
    values: dict[str, object] = {}
    for part in text.split(","):
        match = PART_RE.match(part.strip())
        if match is None:
            raise BadTransformation(
                f"“{part[:40]}” is not a transformation: use w_N, h_N, c_fill|fit|limit|scale, "
                "f_jpg|png|webp|auto, q_N|auto or t_NAME."
            )
        key, value = match.groups()
        if key in values:
            raise BadTransformation(f"{key}_ is given twice.")
        if key == "w":
            values[key] = _int(value, "Width (w_)", 1, MAX_EDGE)
        elif key == "h":
            values[key] = _int(value, "Height (h_)", 1, MAX_EDGE)
        elif key == "c":
            if value not in CROPS:
                raise BadTransformation(f"Crop (c_) is one of {', '.join(CROPS)}.")
            values[key] = value
        elif key == "f":
            value = "jpg" if value == "jpeg" else value
            if value not in FORMATS:
                raise BadTransformation(f"Format (f_) is one of {', '.join(FORMATS)}.")
            values[key] = value
        elif key == "q":
            values[key] = None if value == "auto" else _int(value, "Quality (q_)", 1, 100)
        else:
            if presets is None:
                raise BadTransformation("A preset cannot name another preset.")
            if value not in presets:
                raise BadTransformation(f"There is no transformation preset “{value[:50]}”.")
            values[key] = value
    if "t" in values:
        if len(values) > 1:
            raise BadTransformation("A preset (t_NAME) stands alone in a transformation.")
        name = str(values["t"])
        return replace(parse(presets[name], presets=None), preset=name)
    if values.get("c") and not (values.get("w") or values.get("h")):
        raise BadTransformation("A crop (c_) needs a width (w_) or a height (h_).")
    return Transformation(
        width=values.get("w"),  # type: ignore[arg-type]
        height=values.get("h"),  # type: ignore[arg-type]
        crop=str(values.get("c", "")),
        format=str(values.get("f", "")),
        quality=values.get("q"),  # type: ignore[arg-type]
    )


def output_format(t: Transformation, asset_format: str, accept: str = "") -> str:
    """The format a transformed image is encoded in: asked for, or by the Accept header
    for f_auto (WebP when the browser takes it), or the original's when it is one of ours,
    else JPEG."""
    if t.format == "auto":
        return "webp" if "image/webp" in (accept or "") else "jpg"
    if t.format:
        return t.format
    return asset_format if asset_format in ("jpg", "png", "webp") else "jpg"


# -- who sees what: the policy's (accounts.policy), named here for delivery's callers -----
public_now = policy.delivery_public_now
effective_mode = policy.access_state


# -- signed URLs -----------------------------------------------------------------------------
_SALT = "dam.delivery"


def _message(asset: Asset, transformation: str, expires: int) -> str:
    return f"{asset.pk}:{asset.version}:{transformation}:{expires}"


def sign(asset: Asset, transformation: str, expires: int, key=None) -> str:
    """The token of a URL for this asset's current version, transformation and expiry
    (Unix seconds); a new version, another transformation or later time fails it."""
    signer = signing.Signer(key=key, salt=_SALT)
    return signer.signature(_message(asset, transformation, expires))


def token_valid(asset: Asset, transformation: str, expires, token, now=None) -> bool:
    if not isinstance(token, str) or not token or len(token) > 200:
        return False
    try:
        expires = int(expires)
    except (TypeError, ValueError, OverflowError):
        return False
    now = now or timezone.now()
    if not now.timestamp() < expires < now.timestamp() + SIGNED_MAX_SECONDS + 60:
        return False
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(
        constant_time_compare(token, sign(asset, transformation, expires, key)) for key in keys
    )


def signed_url(asset: Asset, *, expires_in: int, transformation: str = "", now=None) -> dict:
    """{url, expires_at} of a signed delivery URL (the transformation as given: a preset
    or free parts; it is checked here so a bad one is a field error, not a dead link)."""
    if not isinstance(expires_in, int) or not 1 <= expires_in <= SIGNED_MAX_SECONDS:
        raise ValidationFailed(
            f"expires_in is a number of seconds from 1 to {SIGNED_MAX_SECONDS:,}.",
            field="expires_in",
        )
    from assets import delivery_selectors

    t = parse((transformation or "").strip(), presets=delivery_selectors.preset_map())
    transformation = f"t_{t.preset}" if t.preset else t.canonical()  # one spelling, URL-safe
    now = now or timezone.now()
    expires_at = now.replace(microsecond=0) + timedelta(seconds=expires_in)
    expires = int(expires_at.timestamp())
    token = sign(asset, transformation, expires)
    path = delivery_path(asset, transformation)
    return {
        "url": f"{settings.DAM_BASE_URL.rstrip('/')}{path}?expires={expires}&token={token}",
        "expires_at": expires_at,
    }


def delivery_path(asset: Asset, transformation: str = "") -> str:
    from urllib.parse import quote

    public_id = quote(asset.public_id, safe="/")
    return f"/d/{transformation}/{public_id}" if transformation else f"/d/{public_id}"
