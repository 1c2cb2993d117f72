from django.conf import settings
from django.shortcuts import render

from dam.errors import error_response
from dam.request_context import client_ip


def request_ip(request) -> str | None:
    """The client's address; behind DAM_TRUSTED_PROXIES proxies, from X-Forwarded-For."""
    proxies = settings.DAM_TRUSTED_PROXIES
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = client_ip.set(request_ip(request))
        try:
            return self.get_response(request)
        finally:
            client_ip.reset(token)


class UploadLimitMiddleware:
    """Refuse a body larger than any allowed upload before reading it (413, not a 2 GB wait)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        # Multipart framing adds a little around the file itself.
        if length > settings.DAM_MAX_UPLOAD_BYTES + 1024 * 1024:
            detail = f"The upload is larger than the {settings.DAM_MAX_UPLOAD_BYTES:,}-byte limit."
            if request.path.startswith("/api/"):
                return error_response(413, detail)
            return render(request, "errors/413.html", {"detail": detail}, status=413)
        return self.get_response(request)


class ApiErrorShapeMiddleware:
    """The API's 405 carries the API error shape too (django-ninja answers in plain text)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 405
            and request.path.startswith("/api/")
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            shaped = error_response(405, f"{request.method} is not allowed on this URL.")
            if response.has_header("Allow"):
                shaped["Allow"] = response["Allow"]
            return shaped
        return response
