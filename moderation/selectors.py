from accounts import policy
from accounts.policy import Level
from assets.models import Asset, ModerationStatus


def pending_queue(*, user):
    """Pending assets the user may moderate (edit level or more), oldest first."""
    if not policy.can_moderate_somewhere(user):
        return Asset.objects.none()
    qs = Asset.objects.filter(moderation_status=ModerationStatus.PENDING)
    return (
        policy.visible_assets(user, qs, minimum=Level.EDIT)
        .select_related("folder", "created_by")
        .order_by("created_at", "id")
    )
