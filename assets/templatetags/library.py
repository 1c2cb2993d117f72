from django import template

from accounts import policy

register = template.Library()


@register.filter
def visible_path(folder, user) -> str:
    """The folder's path as this user may see it (no invisible ancestors); no queries per row."""
    return policy.access_for(user).describe_folder(folder)


@register.filter
def thousands(n) -> str:
    """12345 -> "12,345"."""
    try:
        return f"{int(n):,}"
    except (TypeError, ValueError):
        return str(n)


@register.filter
def access_state(asset) -> str:
    """public, restricted, scheduled, ended or expired (assets.delivery.effective_mode)."""
    from assets.delivery import effective_mode

    return effective_mode(asset)


@register.simple_tag
def id_url(name, pk, *args) -> str:
    """`{% url name pk ... %}` for lists (tiles, folder trees): reversed once per URL name,
    not once per row (dam.links)."""
    from dam.links import id_path

    return id_path(name, pk, *args)
