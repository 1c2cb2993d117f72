"""File responses shared by the pages and the API (permission checks happen before)."""

from __future__ import annotations

import logging

from django.http import FileResponse, Http404
from django.utils.http import http_date

from assets.models import Asset, Rendition
from dam.storage import open_blob

log = logging.getLogger(__name__)


def _open(name: str, what: str):
    """A file the database promises; if storage lost it, log loudly and answer 404."""
    try:
        return open_blob(name)
    except FileNotFoundError:
        log.error("storage is missing %s %s", what, name)
        raise Http404("The file is missing from storage.") from None


def original_response(asset: Asset, *, actor, via: str, link=None) -> FileResponse:
    """The current original, audited as downloaded by `actor` (None: through the public
    `link`; see services.downloads_record)."""
    version = asset.current_version
    if version is None:
        raise Http404("No such file.")
    return version_original_response(version, actor=actor, via=via, link=link)


def rendition_response(asset: Asset, spec: str) -> FileResponse:
    version = asset.versions.filter(number=asset.version).first()
    if version is None:
        raise Http404("No such version.")
    return version_rendition_response(version, spec)


# -- versions (issue 4: presets & versions) -------------------------------------------
def version_original_response(version, *, actor, via: str, link=None) -> FileResponse:
    """One version's original; the caller checked access and that the blob was kept."""
    from assets.services import downloads_record

    blob = _open(version.blob_name, "original")
    served = [(version.asset_id, version.number, version.bytes)]
    try:
        downloads_record(actor=actor, served=served, via=via, link=link)
    except BaseException:
        blob.close()
        raise
    response = FileResponse(
        blob,
        as_attachment=True,
        filename=version.original_filename,
        content_type=version.mime_type,
    )
    response["Cache-Control"] = "private, no-store"
    return response


def version_rendition_response(version, spec: str) -> FileResponse:
    if version.format == "svg" and version.blob_released_at is None:
        return _svg_response(version)
    rendition = Rendition.objects.filter(version=version, spec=spec).only("file_name", "created_at")
    rendition = rendition.first()
    if rendition is None:
        raise Http404("Not rendered yet.")
    response = FileResponse(_open(rendition.file_name, "rendition"), content_type="image/webp")
    response["Cache-Control"] = "private, max-age=86400"
    response["Last-Modified"] = http_date(rendition.created_at.timestamp())
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _svg_response(version) -> FileResponse:
    """A vector image previews as itself: the stored SVG was sanitized at upload (no
    script, handlers, foreign objects or external references), and the sandbox CSP keeps
    it inert even when opened directly."""
    response = FileResponse(_open(version.blob_name, "original"), content_type="image/svg+xml")
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response["Cache-Control"] = "private, max-age=86400"
    response["X-Content-Type-Options"] = "nosniff"
    return response
