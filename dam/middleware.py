from dam.errors import error_response
from dam.request_context import client_ip


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = client_ip.set(request.META.get("REMOTE_ADDR") or None)
        try:
            return self.get_response(request)
        finally:
            client_ip.reset(token)


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
