from django.contrib.auth.backends import ModelBackend

from accounts.models import UserStatus


class EmailBackend(ModelBackend):
    """Email log-in; invited and inactive users cannot log in with a password."""

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user) and user.status in (
            UserStatus.ACTIVE,
            UserStatus.PASSWORD_RESET,
        )


def axes_username(request, credentials) -> str | None:
    """Throttle per email as typed in any case or spacing (log-in is case-insensitive)."""
    value = (credentials or {}).get("username") or request.POST.get("username") or ""
    return value.strip().lower() or None
