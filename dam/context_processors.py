from django.urls import reverse

from accounts import policy


def _unread(user):
    """Unread notifications, counted only when a page shows the bell (lazily)."""
    from django.utils.functional import SimpleLazyObject

    from dam.models import Notification

    return SimpleLazyObject(
        lambda: Notification.objects.filter(user=user, read_at__isnull=True).count()
    )


def navigation(request):
    """The left navigation, each entry only for roles that may use it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    if policy.can_use_library(user):
        items.append(("library", "Media Library", reverse("assets:library")))
        items.append(("collections", "Collections", reverse("collections")))
    if policy.can_moderate_somewhere(user):
        items.append(("moderation", "Moderation", reverse("moderation")))
    if policy.can_see_reports(user):
        items.append(("reports", "Reports", reverse("reports")))
    if policy.can_see_activity(user):
        items.append(("activity", "Activity", reverse("activity")))
    if policy.can_manage_users(user):
        items.append(("settings", "Settings", reverse("settings")))
    elif policy.is_admin_role(user):  # other admin roles: Settings → Upload presets only
        items.append(("settings", "Settings", reverse("assets:presets")))
    path = request.path
    section = "library" if path.startswith(("/library/", "/assets/")) else None
    if path.startswith("/settings/"):
        section = "settings"
    for key, _label, url in items:
        if section is None and path.startswith(url):
            section = key
    return {
        "unread_notifications": _unread(user),
        "can_search": policy.can_use_library(user),
        "nav_items": items,
        "nav_active": section,
        "can_manage_users": policy.can_manage_users(user),
        "can_manage_metadata": policy.can_manage_metadata(user),
        "user_is_admin": policy.is_admin_role(user),
        "can_manage_automation": policy.can_manage_automation(user),
    }
