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


# -- what services raise: one class per API status --------------------------------
class ServiceError(Exception):
    """A business rule said no; `code` is the API's machine code, the message is for people."""

    status = 400
    code = "invalid"

    def __init__(
        self, message: str, *, field: str | None = None, errors: dict | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # Several fields at once (metadata): {"field": ["message", ...]}; else from `field`.
        self.errors = errors

    def field_errors(self) -> dict[str, list[str]]:
        if self.errors:
            return self.errors
        return {self.field or "non_field_errors": [self.message]}


class ValidationFailed(ServiceError):
    status = 422
    code = "validation_error"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Gone(ServiceError):
    status = 410
    code = "gone"


class NotAllowed(ServiceError):
    status = 403
    code = "forbidden"


class TooLarge(ServiceError):
    status = 413
    code = "too_large"
