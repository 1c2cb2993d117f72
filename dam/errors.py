"""The API's error shape: {"detail": "...", "code": "..."} (+ "errors" on 422)."""

from __future__ import annotations

from django.http import JsonResponse

CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "validation_error",
    429: "throttled",
    500: "server_error",
}


def error_body(
    status: int, detail: str, code: str | None = None, errors: dict | None = None
) -> dict:
    body = {"detail": detail, "code": code or CODES.get(status, "error")}
    if errors is not None:
        body["errors"] = errors
    return body


def error_response(status: int, detail: str, code: str | None = None, errors: dict | None = None):
    return JsonResponse(error_body(status, detail, code, errors), status=status)
