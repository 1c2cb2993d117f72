from __future__ import annotations

from ninja import Schema
from pydantic import StrictInt

from dam.schemas import ObjectIn


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


class UserPage(Schema):
    count: int
    next: str | None
    previous: str | None
    results: list[UserOut]


class PermissionsIn(Schema):
    create_collections: bool | None = None
    share_collections: bool | None = None
    moderate_assets: bool | None = None
    delivery_url_options: bool | None = None


class UserIn(Schema):
    email: str
    first_name: str = ""
    last_name: str = ""
    role: str = "media_library_user"
    groups: list[int] = []
    permissions: PermissionsIn = PermissionsIn()


class UserPatch(ObjectIn):
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None
    groups: list[int] | None = None
    permissions: PermissionsIn | None = None


class UserFilters(Schema):
    q: str | None = None
    role: str | None = None
    status: str | None = None


class GroupOut(Schema):
    id: int
    name: str
    members: list[int]
    member_count: int


class GroupPage(Schema):
    count: int
    next: str | None
    previous: str | None
    results: list[GroupOut]


class GroupIn(Schema):
    name: str
    members: list[int] = []


class GroupPatch(ObjectIn):
    name: str | None = None
    members: list[int] | None = None


class PreferencesOut(Schema):
    seat_limit: int | None
    seats_used: int
    automatic_backup: bool
    keep_metadata_on_new_version: bool
    block_restricted_downloads: bool
    storage_alert_bytes: int | None
    trash_retention_days: int


class PreferencesPatch(ObjectIn):
    seat_limit: int | None = None
    automatic_backup: bool | None = None
    keep_metadata_on_new_version: bool | None = None
    block_restricted_downloads: bool | None = None
    storage_alert_bytes: StrictInt | None = None
    trash_retention_days: int | None = None


def permissions_in(permissions: PermissionsIn | None) -> dict:
    if permissions is None:
        return {}
    return {k: v for k, v in permissions.model_dump().items() if v is not None}


def group_out(group) -> dict:
    """Members are the group's users who are not inactive (prefetch `user_set`)."""
    members = sorted(u.pk for u in group.user_set.all() if u.status != "inactive")
    return {"id": group.pk, "name": group.name, "members": members, "member_count": len(members)}
