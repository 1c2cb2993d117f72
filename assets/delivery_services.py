"""Delivery: transformed renditions (made once, kept in storage) and the responses that
serve them. Who may fetch is decided before (`assets.delivery`, the views)."""

from __future__ import annotations

import hashlib
import io
import logging
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import FileResponse, HttpResponse, HttpResponseNotModified, HttpResponseRedirect
from PIL import Image, ImageOps

from assets import media
from assets.delivery import ATTACHMENT_FORMATS, MAX_EDGE, BadTransformation, Transformation
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
    # fit / limit (and fill with one edge): keep the aspect ratio inside the box, and
    # never past MAX_EDGE (a format change alone keeps the original's size up to it)
    ratio = min((w or 10**9) / w0, (h or 10**9) / h0, MAX_EDGE / max(w0, h0))
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


def _cover_edge(w0: int, h0: int, t: Transformation) -> int:
    """The longest edge to decode so the target is covered, for either orientation of
    the stored size (EXIF rotation turns a 400×200 file into a 200×400 picture)."""
    edges = []
    for w, h in ((w0, h0), (h0, w0)):
        tw, th, crop = _target(w, h, t)
        cover = max(tw / w, th / h) if crop else min(tw / w, th / h)
        edges.append(max(1, round(max(w, h) * cover), tw, th))
    return max(edges)


def render(version: AssetVersion, asset, t: Transformation, fmt: str) -> tuple[bytes, int, int]:
    w0, h0 = asset.width or 0, asset.height or 0
    vector = asset.format == "pdf"  # no pixel size of its own: "limit" never holds it back
    if not (w0 and h0):  # no size known: decode at the asked size
        w0 = h0 = max(t.width or 0, t.height or 0) or 1600
    if vector and (t.width or t.height):
        w0, h0 = (w0 * 10, h0 * 10)  # render as large as asked (within MAX_EDGE)
    base = _base_image(version, asset.type, asset.format, min(_cover_edge(w0, h0, t), MAX_EDGE))
    if (base.width > base.height) != (w0 > h0) and w0 != h0:
        w0, h0 = h0, w0  # the picture is turned (EXIF orientation, a rotated video)
    tw, th, crop = _target(w0, h0, t)
    if crop:
        image = ImageOps.fit(base, (tw, th), Image.Resampling.LANCZOS)
    elif (base.width, base.height) != (tw, th):
        image = base.resize((tw, th), Image.Resampling.LANCZOS)
    else:
        image = base
    if fmt == "jpg" and image.mode != "RGB":
        flat = Image.new("RGB", image.size, (255, 255, 255))
        rgba = image.convert("RGBA")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif fmt in ("png", "webp") and image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
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
    stores it while holding a lock on (version, spec), so requests arriving together wait
    for that one render instead of each making their own; every later one reads it."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import connection

    spec = spec_of(t, fmt)
    found = Rendition.objects.filter(version=version, spec=spec).first()
    if found is not None:
        return found
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [version.pk, spec])
        found = Rendition.objects.filter(version=version, spec=spec).first()
        if found is not None:  # made while we waited
            return found
        data, width, height = render(version, asset, t, fmt)
        digest = hashlib.sha256(spec.encode()).hexdigest()[:20]
        name = f"renditions/{version.asset_id}/v{version.number}/d-{digest}.{fmt}"
        if default_storage.exists(name):  # left by a render whose row was rolled back
            default_storage.delete(name)
        stored = default_storage.save(name, ContentFile(data))
        from dam import usage

        usage.bump(usage.Kind.RENDITION, object_id=version.asset_id)  # with the row
        return Rendition.objects.create(
            version=version,
            spec=spec,
            file_name=stored,
            format=fmt,
            width=width,
            height=height,
            bytes=len(data),
        )


# -- responses ------------------------------------------------------------------------------------
RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _fresh(request, etag: str) -> bool:
    """If-None-Match names this ETag (weak or strong), or is `*`."""
    given = [e.strip() for e in request.headers.get("If-None-Match", "").split(",")]
    return "*" in given or etag in given or f"W/{etag}" in given


def _not_modified(etag: str, cache: str) -> HttpResponseNotModified:
    response = HttpResponseNotModified()
    response["ETag"] = etag
    response["Cache-Control"] = cache
    return response


def _serve(
    request,
    name: str,
    content_type: str,
    etag: str,
    cache: str,
    attachment: str = "",
    *,
    size: int = 0,
    asset_id: int = 0,
):
    """The bytes of a stored file, after the caller's checks: a 304 for a fresh ETag; in
    production the web server (X-Accel-Redirect) or S3 (a short-lived presigned URL) sends
    the bytes, else the app streams them (one byte range when asked: video seeking)."""
    if _fresh(request, etag):
        return _not_modified(etag, cache)
    from dam import usage

    sent = size
    if settings.DAM_DELIVERY_ACCEL_PREFIX:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.DAM_DELIVERY_ACCEL_PREFIX.rstrip("/") + "/" + name
    elif presigned := presigned_url(
        name,
        seconds=PRESIGNED_SECONDS,
        content_type=content_type,
        attachment=attachment,
        cache=cache,
    ):
        response = HttpResponseRedirect(presigned)
        # The redirect outlives nothing: the URL it names lasts PRESIGNED_SECONDS.
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        usage.bump(usage.Kind.DELIVERY, object_id=asset_id, size=sent)
        return response
    else:
        try:
            blob = open_blob(name)
        except FileNotFoundError:
            log.error("storage is missing delivered file %s", name)
            from django.http import Http404

            raise Http404("The file is missing from storage.") from None
        response = _ranged(request, blob, content_type) or FileResponse(
            blob, content_type=content_type
        )
        response["Accept-Ranges"] = "bytes"
        if response.status_code == 206:
            sent = int(response["Content-Length"])
        elif response.status_code != 200:
            sent = 0
    if response.status_code in (200, 206):
        usage.bump(usage.Kind.DELIVERY, object_id=asset_id, size=sent)
    response["ETag"] = etag
    response["Cache-Control"] = cache
    response["X-Content-Type-Options"] = "nosniff"
    if attachment:
        from django.utils.http import content_disposition_header

        response["Content-Disposition"] = content_disposition_header(True, attachment)
    return response


def _ranged(request, blob, content_type: str):
    """A 206 with one byte range of `blob` (or a 416), or None to send it whole."""
    match = RANGE_RE.match(request.headers.get("Range", "").strip())
    if match is None or not any(match.groups()):
        return None
    blob.seek(0, io.SEEK_END)
    size = blob.tell()
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    else:  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
    if start > end or start >= size:
        blob.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    blob.seek(start)
    length = end - start + 1

    def chunks(remaining=length, chunk=64 * 1024):
        try:
            while remaining > 0:
                data = blob.read(min(chunk, remaining))
                if not data:
                    break
                remaining -= len(data)
                yield data
        finally:
            blob.close()

    from django.http import StreamingHttpResponse

    response = StreamingHttpResponse(chunks(), status=206, content_type=content_type)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Length"] = str(length)
    return response


def delivery_response(request, asset, t: Transformation, fmt: str | None, cache: str):
    """The current version, as is (no transformation) or transformed. A fresh ETag is
    answered before anything is rendered."""
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
            size=version.bytes,
            asset_id=asset.pk,
        )
    spec = spec_of(t, fmt)
    etag = f'"{version.sha256[:16]}-{hashlib.sha256(spec.encode()).hexdigest()[:16]}"'
    if _fresh(request, etag):
        response = _not_modified(etag, cache)
    else:
        rendition = rendition_for(version, asset, t, fmt)
        response = _serve(
            request,
            rendition.file_name,
            MIME[rendition.format],
            etag,
            cache,
            size=rendition.bytes,
            asset_id=asset.pk,
        )
    if t.format == "auto":
        response["Vary"] = "Accept"
    return response


# -- signed URLs --------------------------------------------------------------------------------
def signed_url_create(*, actor, asset, expires_in, transformation: str = "") -> dict:
    """A signed delivery URL ({url, expires_at}) for someone the policy lets sign it;
    audited (who shared which asset, how, until when)."""
    from accounts import policy
    from assets import delivery

    original = not (transformation or "").strip()
    if not policy.can_sign_delivery_url(actor, asset, original=original):
        if original and policy.can_sign_delivery_url(actor, asset, original=False):
            raise NotAllowed(policy.BLOCKED_DOWNLOAD)
        raise NotAllowed("Signed URLs need the delivery-URL permission and folder access.")
    signed = delivery.signed_url(asset, expires_in=expires_in, transformation=transformation)
    path = signed["url"].split("?", 1)[0]
    audit_record(
        actor=actor,
        verb="asset.delivery_url",
        obj=asset,
        data={"url": path, "expires_at": signed["expires_at"].isoformat()},
    )
    return signed
