from __future__ import annotations

from ninja import Schema


class PermissionsOut(Schema):
    create_collections: bool
    share_collections: bool
    moderate_assets: bool
    delivery_url_options: bool


class GroupRef(Schema):
    id: int
    name: str


class UserOut(Schema):
    id: int
    email: str
    first_name: str
    last_name: str
    role: str
    status: str
    groups: list[GroupRef]
    permissions: PermissionsOut
    last_login: str | None
    date_joined: str


def user_out(user) -> dict:
    return {
        "id": user.pk,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "status": user.status,
        "groups": [{"id": g.pk, "name": g.name} for g in user.groups.all()],
        "permissions": {
            "create_collections": user.can_create_collections,
            "share_collections": user.can_share_collections,
            "moderate_assets": user.can_moderate_assets,
            "delivery_url_options": user.can_use_delivery_urls,
        },
        "last_login": user.last_login.isoformat() if user.last_login else None,
        "date_joined": user.date_joined.isoformat(),
    }
