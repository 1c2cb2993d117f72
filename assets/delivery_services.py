"""Delivery: transformed renditions (made once, kept in storage) and the responses that
serve them. Who may fetch is decided before (`assets.delivery`, the views)."""

from __future__ import annotations

import hashlib
import io
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import FileResponse, HttpResponse, HttpResponseNotModified, HttpResponseRedirect
from PIL import Image, ImageOps

from assets import media
from assets.delivery import ATTACHMENT_FORMATS, BadTransformation, Transformation
from assets.models import AssetType, AssetVersion, DeliveryPreset, Rendition
from dam.errors import NotAllowed, ValidationFailed
from dam.services import audit_record
from dam.storage import open_blob, presigned_url

log = logging.getLogger(__name__)

MIME = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
PIL_FORMAT = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
AUTO_QUALITY = 82
PRESIGNED_SECONDS = 60  # S3 serves the bytes from a URL this short-lived


# -- presets (admin) ---------------------------------------------------------------------------
def _require_admin(actor) -> None:
    from accounts import policy

    if not policy.is_admin_role(actor):
        raise NotAllowed("Only admins define transformation presets.")


def _clean_preset(name, transformation) -> tuple[str, str]:
    from assets.delivery import PRESET_RE, parse

    name = (name or "").strip().lower() if isinstance(name, str) else ""
    if not PRESET_RE.match(name):
        raise ValidationFailed(
            "Name the preset with lower-case letters, digits, - and _ (at most 50).",
            field="name",
        )
    text = transformation if isinstance(transformation, str) else ""
    t = parse(text, presets=None)
    if t.empty:
        raise BadTransformation("A preset transforms something: give w_, h_, c_, f_ or q_.")
    return name, t.canonical()


def preset_create(*, actor, name, transformation) -> DeliveryPreset:
    _require_admin(actor)
    name, canonical = _clean_preset(name, transformation)
    try:
        with transaction.atomic():
            preset = DeliveryPreset.objects.create(name=name, transformation=canonical)
            audit_record(
                actor=actor, verb="delivery_preset.create", obj=preset, data={"t": canonical}
            )
    except IntegrityError:
        from dam.errors import Conflict

        raise Conflict(f"A preset named “{name}” exists.", field="name") from None
    return preset


def preset_update(*, actor, preset: DeliveryPreset, transformation) -> DeliveryPreset:
    """A preset's name is its URL and never changes; its transformation may (URLs that
    name it then deliver the new one: renditions are keyed by the transformation)."""
    _require_admin(actor)
    _name, canonical = _clean_preset(preset.name, transformation)
    with transaction.atomic():
        before = preset.transformation
        preset.transformation = canonical
        preset.save(update_fields=["transformation", "updated_at"])
        audit_record(
            actor=actor,
            verb="delivery_preset.update",
            obj=preset,
            data={"before": before, "after": canonical},
        )
    return preset


def preset_delete(*, actor, preset: DeliveryPreset) -> None:
    _require_admin(actor)
    with transaction.atomic():
        audit_record(actor=actor, verb="delivery_preset.delete", obj=preset, data={})
        preset.delete()


# -- renditions ----------------------------------------------------------------------------------
def _target(w0: int, h0: int, t: Transformation) -> tuple[int, int, bool]:
    """(width, height, crop to exactly that) of the output for an image of w0×h0."""
    w, h = t.width, t.height
    crop = t.crop or "limit"
    if crop == "fill" and w and h:
        return w, h, True
    if crop == "scale":
        if w and h:
            return w, h, False
        if w:
            return w, max(1, round(h0 * w / w0)), False
        return max(1, round(w0 * h / h0)), h, False
    # fit / limit (and fill with one edge): keep the aspect ratio inside the box
    ratio = min((w or 10**9) / w0, (h or 10**9) / h0)
    if crop == "limit":
        ratio = min(ratio, 1.0)
    return max(1, round(w0 * ratio)), max(1, round(h0 * ratio)), False


def _base_image(version: AssetVersion, asset_type: str, asset_format: str, edge: int):
    """The version's picture (an image, a video's poster, a PDF's first page), decoded
    no larger than needed for `edge`."""
    with open_blob(version.blob_name) as fh:
        if asset_type == AssetType.IMAGE and asset_format != "svg":
            return media._raster_base(fh, edge)
        if asset_type == AssetType.VIDEO:
            probe = media.probe(fh, version.original_filename)
            return media._video_poster(fh, probe, edge)
        if asset_format == "pdf":
            return media._pdf_page(fh, edge)
    raise BadTransformation("Only images, videos (their poster) and PDFs (page 1) transform.")


def render(version: AssetVersion, asset, t: Transformation, fmt: str) -> tuple[bytes, int, int]:
    w0, h0 = asset.width or 0, asset.height or 0
    if not (w0 and h0):  # no size known (a video or PDF): decode at the asked size
        w0 = h0 = max(t.width or 0, t.height or 0) or 1600
    tw, th, crop = _target(w0, h0, t)
    # Decode big enough to cover the target before cropping (never past the original).
    cover = max(tw / w0, th / h0) if crop else min(tw / w0, th / h0)
    edge = max(1, round(max(w0, h0) * cover))
    base = _base_image(version, asset.type, asset.format, max(edge, tw, th))
    if crop:
        image = ImageOps.fit(base, (tw, th), Image.Resampling.LANCZOS)
    elif (base.width, base.height) != (tw, th):
        image = base.resize((tw, th), Image.Resampling.LANCZOS)
    else:
        image = base
    if fmt == "jpg" and image.mode != "RGB":
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, mask=image.getchannel("A") if "A" in image.getbands() else None)
        image = flat
    buffer = io.BytesIO()
    options = {"quality": t.quality or AUTO_QUALITY} if fmt in ("jpg", "webp") else {}
    if fmt == "png":
        options = {"optimize": True}
    image.save(buffer, PIL_FORMAT[fmt], **options)
    return buffer.getvalue(), image.width, image.height


def spec_of(t: Transformation, fmt: str) -> str:
    """The rendition's key: the canonical transformation and the output format."""
    return f"d:{t.canonical()}:{fmt}"


def rendition_for(version: AssetVersion, asset, t: Transformation, fmt: str) -> Rendition:
    """The rendition of this transformation, made once: the first request renders and
    stores it, two at once store one (the unique constraint), every later one reads it."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    spec = spec_of(t, fmt)
    found = Rendition.objects.filter(version=version, spec=spec).first()
    if found is not None:
        return found
    data, width, height = render(version, asset, t, fmt)
    digest = hashlib.sha256(spec.encode()).hexdigest()[:20]
    name = f"renditions/{version.asset_id}/v{version.number}/d-{digest}.{fmt}"
    stored = (
        default_storage.save(name, ContentFile(data)) if not default_storage.exists(name) else name
    )
    try:
        with transaction.atomic():
            return Rendition.objects.create(
                version=version,
                spec=spec,
                file_name=stored,
                format=fmt,
                width=width,
                height=height,
                bytes=len(data),
            )
    except IntegrityError:  # made at the same moment by another request
        return Rendition.objects.get(version=version, spec=spec)


# -- responses ------------------------------------------------------------------------------------
def _serve(request, name: str, content_type: str, etag: str, cache: str, attachment: str = ""):
    """The bytes of a stored file, after the caller's checks: a 304 for a fresh ETag; in
    production the web server (X-Accel-Redirect) or S3 (a short-lived presigned URL) sends
    the bytes, else the app streams them."""
    if etag in [e.strip() for e in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
    elif settings.DAM_DELIVERY_ACCEL_PREFIX:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.DAM_DELIVERY_ACCEL_PREFIX.rstrip("/") + "/" + name
    elif presigned := presigned_url(
        name, seconds=PRESIGNED_SECONDS, content_type=content_type, attachment=attachment
    ):
        response = HttpResponseRedirect(presigned)
    else:
        try:
            response = FileResponse(open_blob(name), content_type=content_type)
        except FileNotFoundError:
            log.error("storage is missing delivered file %s", name)
            from django.http import Http404

            raise Http404("The file is missing from storage.") from None
    response["ETag"] = etag
    response["Cache-Control"] = cache
    response["X-Content-Type-Options"] = "nosniff"
    if attachment:
        from django.utils.http import content_disposition_header

        response["Content-Disposition"] = content_disposition_header(True, attachment)
    return response


def delivery_response(request, asset, t: Transformation, fmt: str | None, cache: str):
    """The current version, as is (no transformation) or transformed."""
    version = asset.versions.filter(number=asset.version).first()
    if version is None or version.blob_released_at is not None:
        from django.http import Http404

        raise Http404("No such file.")
    if t.empty and not fmt:
        risky = asset.type == AssetType.RAW or asset.format in ATTACHMENT_FORMATS
        return _serve(
            request,
            version.blob_name,
            version.mime_type or "application/octet-stream",
            f'"{version.sha256[:32]}"',
            cache,
            attachment=version.original_filename if risky else "",
        )
    rendition = rendition_for(version, asset, t, fmt)
    etag = f'"{version.sha256[:16]}-{hashlib.sha256(rendition.spec.encode()).hexdigest()[:16]}"'
    response = _serve(request, rendition.file_name, MIME[rendition.format], etag, cache)
    if t.format == "auto":
        response["Vary"] = "Accept"
    return response
