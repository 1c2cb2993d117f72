"""API authentication: bearer personal access tokens, or the browser session with CSRF."""

from ninja.security import HttpBearer, SessionAuth

from accounts.services import api_token_authenticate


class BearerTokenAuth(HttpBearer):
    def authenticate(self, request, token):
        user = api_token_authenticate(token.strip())
        if user is not None:
            request.user = user
        return user


class ActiveSessionAuth(SessionAuth):
    def _get_key(self, request):
        # No signed-in session: there is no CSRF question to ask, and the caller (a
        # script with a missing or bad token) must hear 401, not "CSRF check failed".
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        user = request.user
        if user.is_authenticated and user.is_active:
            return user
        return None


api_auth = [BearerTokenAuth(), ActiveSessionAuth()]
