from django import template

from accounts import policy

register = template.Library()


@register.filter
def can_manage_automation(user) -> bool:
    """Settings → Automation shows for admin roles only."""
    return policy.can_manage_automation(user)
