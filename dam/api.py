"""The JSON API under /api/v1/ (contract: shared API.md)."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from accounts.api import router as accounts_router
from accounts.auth import api_auth
from accounts.policy import PermissionDeniedForLevel
from assets.api import bulk_router as assets_bulk_router
from assets.api import router as assets_router
from assets.services import ServiceError
from dam.errors import CODES, error_body

log = logging.getLogger(__name__)


class _Parser(Parser):
    """JSON bodies PostgreSQL can store: a lone surrogate (`"\\ud800"`) is valid JSON but
    no UTF-8, and would fail at the first query that used it; such a body answers 400
    like any unreadable one."""

    def parse_body(self, request):
        data = super().parse_body(request)
        json.dumps(data, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError
        return data


api = NinjaAPI(
    parser=_Parser(),
    title="DAM API",
    version="1",
    description="Digital asset management: folders, assets, search, sharing, delivery.",
    auth=api_auth,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _respond(request, status: int, detail: str, code: str | None = None, errors=None):
    return api.create_response(request, error_body(status, detail, code, errors), status=status)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return _respond(request, 401, "Authentication credentials were missing or invalid.")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    detail = str(exc)
    if exc.status_code == 403 and "CSRF" in detail:
        return _respond(
            request,
            403,
            "CSRF check failed; reload the page and try again.",
            "csrf_failed",
        )
    return _respond(request, exc.status_code, detail, CODES.get(exc.status_code))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return _respond(request, 404, "Not found.")


@api.exception_handler(PermissionDenied)
def _forbidden(request, exc: PermissionDenied):
    return _respond(request, 403, str(exc) or "You are not allowed to do that.")


@api.exception_handler(PermissionDeniedForLevel)
def _forbidden_level(request, exc: PermissionDeniedForLevel):
    return _respond(request, 403, str(exc))


@api.exception_handler(ServiceError)
def _service_error(request, exc: ServiceError):
    errors = exc.field_errors() if exc.status == 422 else None
    return _respond(request, exc.status, exc.message, exc.code, errors)


_LOCATIONS = ("body", "query", "path", "form", "file", "header", "cookie")


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    errors: dict[str, list[str]] = {}
    for err in exc.errors:
        loc = [str(part) for part in err.get("loc", ())]
        # ("body", "payload", "name") -> "name"; ("query", "paging", "page") -> "page"
        if loc and loc[0] in _LOCATIONS:
            loc = loc[1:]
            if loc and loc[0] in ("payload", "paging"):
                loc = loc[1:]
        field = ".".join(loc) or "non_field_errors"
        errors.setdefault(field, []).append(str(err.get("msg", "Invalid value.")))
    return _respond(request, 422, "The request has invalid fields.", "validation_error", errors)


# A body Django cannot read is the caller's mistake. Outside the API Django answers 400
# itself; here the catch-all below would otherwise make it a 500.
@api.exception_handler(RequestDataTooBig)
def _body_too_large(request, exc):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return _respond(
        request,
        413,
        f"The request body is larger than the {limit:,}-byte limit (files go in a multipart "
        "upload).",
    )


@api.exception_handler(BadRequest)  # e.g. a form body that is not UTF-8
@api.exception_handler(MultiPartParserError)  # e.g. a multipart body without a boundary
@api.exception_handler(SuspiciousOperation)  # e.g. too many form fields or files
def _unreadable_body(request, exc):
    return _respond(request, 400, "The request body could not be read; check its Content-Type.")


@api.exception_handler(Exception)
def _server_error(request, exc):
    log.exception("API error on %s %s", request.method, request.path)
    return _respond(request, 500, "Something went wrong on our side; it has been logged.")


api.add_router("", accounts_router)
api.add_router("", assets_bulk_router)  # before assets_router: see assets/api.py
api.add_router("", assets_router)
api.add_router("", "assets.api_uploads.router")  # resumable uploads
api.add_router("", "metadata.api.router")
api.add_router("", "assets.collection_api.router")
api.add_router("", "moderation.api.router")
api.add_router("", "assets.search_api.router")
api.add_router("", "assets.automation_api.router")  # automation rules
api.add_router("", "dam.activity_api.router")  # the activity log
