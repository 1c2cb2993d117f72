"""Users, groups and preferences (API.md "Users and groups"); rules live in the services."""

from django.contrib.auth.models import Group
from django.db.models import Prefetch, Q
from django.http import Http404
from ninja import Query, Router, Status

from accounts import policy, services
from accounts.models import Role, User, UserStatus
from accounts.schemas import (
    GroupIn,
    GroupOut,
    GroupPage,
    GroupPatch,
    PreferencesOut,
    PreferencesPatch,
    UserFilters,
    UserIn,
    UserOut,
    UserPage,
    UserPatch,
    group_out,
    permissions_in,
    user_out,
)
from assets.services import NotAllowed, ValidationFailed
from dam.pagination import PageParams, paginate
from dam.preferences import preferences_get, preferences_update

router = Router(tags=["users"])


@router.get("/me", response=UserOut, summary="The current user")
def me(request):
    return user_out(request.auth)


def _require_manager(request) -> None:
    """The endpoints exist for everyone; only admins may use them (403, API.md)."""
    if not policy.can_manage_users(request.auth):
        raise NotAllowed("Only admins manage users and groups.")


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


def _fetch_user(user_id: int) -> User:
    user = User.objects.prefetch_related("groups").filter(pk=user_id).first()
    if user is None:
        raise Http404("No such user.")
    return user


# -- users -----------------------------------------------------------------------------
@router.get("/users", response=UserPage, summary="Users (admins)")
def users_list(request, filters: Query[UserFilters], paging: Query[PageParams] = None):
    _require_manager(request)
    users = User.objects.prefetch_related("groups").order_by("email", "id")
    if filters.q:
        q = filters.q.replace("\x00", "").strip()
        users = users.filter(
            Q(email__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
        )
    # An unknown role or status matches nobody (and a NUL in one never reaches PostgreSQL).
    if filters.role:
        users = users.filter(role=filters.role) if filters.role in Role.values else users.none()
    if filters.status:
        known = filters.status in UserStatus.values
        users = users.filter(status=filters.status) if known else users.none()
    return paginate(request, users, user_out, paging or PageParams())


@router.post("/users", response={201: UserOut}, summary="Invite a user")
def users_create(request, payload: UserIn):
    _require_manager(request)
    user = services.user_invite(
        actor=request.auth,
        new_user=services.NewUser(
            email=payload.email,
            first_name=payload.first_name,
            last_name=payload.last_name,
            role=payload.role,
            groups=payload.groups,
            permissions=permissions_in(payload.permissions),
        ),
        base_url=_base_url(request),
    )
    return Status(201, user_out(_fetch_user(user.pk)))


@router.get("/users/{user_id}", response=UserOut, summary="One user")
def users_get(request, user_id: int):
    _require_manager(request)
    return user_out(_fetch_user(user_id))


@router.patch("/users/{user_id}", response=UserOut, summary="Change a user")
def users_update(request, user_id: int, payload: UserPatch):
    _require_manager(request)
    user = _fetch_user(user_id)
    services.user_update(
        actor=request.auth,
        user=user,
        first_name=payload.first_name,
        last_name=payload.last_name,
        role=payload.role,
        groups=payload.groups,
        permissions=permissions_in(payload.permissions),
    )
    return user_out(_fetch_user(user_id))


@router.delete("/users/{user_id}", response={204: None}, summary="Delete (deactivate) a user")
def users_delete(request, user_id: int):
    _require_manager(request)
    services.user_delete(actor=request.auth, user=_fetch_user(user_id))
    return Status(204, None)


@router.post("/users/{user_id}/reset-password", response={202: UserOut}, summary="Reset password")
def users_reset_password(request, user_id: int):
    _require_manager(request)
    user = services.user_reset_password(
        actor=request.auth, user=_fetch_user(user_id), base_url=_base_url(request)
    )
    return Status(202, user_out(_fetch_user(user.pk)))


@router.post("/users/{user_id}/force-logout", response={202: UserOut}, summary="End all sessions")
def users_force_logout(request, user_id: int):
    _require_manager(request)
    user = services.user_force_logout(actor=request.auth, user=_fetch_user(user_id))
    return Status(202, user_out(_fetch_user(user.pk)))


@router.post("/users/{user_id}/resend-invite", response={202: UserOut}, summary="Resend invite")
def users_resend_invite(request, user_id: int):
    _require_manager(request)
    user = services.user_resend_invite(
        actor=request.auth, user=_fetch_user(user_id), base_url=_base_url(request)
    )
    return Status(202, user_out(_fetch_user(user.pk)))


# -- groups ----------------------------------------------------------------------------
def _groups():
    return Group.objects.prefetch_related(
        Prefetch("user_set", queryset=User.objects.only("id", "status"))
    ).order_by("name", "id")


def _fetch_group(group_id: int) -> Group:
    group = _groups().filter(pk=group_id).first()
    if group is None:
        raise Http404("No such group.")
    return group


@router.get("/groups", response=GroupPage, tags=["groups"], summary="Groups (admins)")
def groups_list(request, paging: Query[PageParams] = None):
    _require_manager(request)
    return paginate(request, _groups(), group_out, paging or PageParams())


@router.post("/groups", response={201: GroupOut}, tags=["groups"], summary="Create a group")
def groups_create(request, payload: GroupIn):
    _require_manager(request)
    group = services.group_create(actor=request.auth, name=payload.name, members=payload.members)
    return Status(201, group_out(_fetch_group(group.pk)))


@router.get("/groups/{group_id}", response=GroupOut, tags=["groups"], summary="One group")
def groups_get(request, group_id: int):
    _require_manager(request)
    return group_out(_fetch_group(group_id))


@router.patch("/groups/{group_id}", response=GroupOut, tags=["groups"], summary="Change a group")
def groups_update(request, group_id: int, payload: GroupPatch):
    _require_manager(request)
    group = _fetch_group(group_id)
    services.group_update(
        actor=request.auth, group=group, name=payload.name, members=payload.members
    )
    return group_out(_fetch_group(group_id))


@router.delete("/groups/{group_id}", response={204: None}, tags=["groups"], summary="Delete")
def groups_delete(request, group_id: int):
    _require_manager(request)
    services.group_delete(actor=request.auth, group=_fetch_group(group_id))
    return Status(204, None)


# -- preferences -----------------------------------------------------------------------
def _preferences_out() -> dict:
    prefs = preferences_get()
    return {
        "seat_limit": prefs.seat_limit,
        "seats_used": services.seats_used(),
        "automatic_backup": prefs.automatic_backup,
        "keep_metadata_on_new_version": prefs.keep_metadata_on_new_version,
        "block_restricted_downloads": prefs.block_restricted_downloads,
        "storage_alert_bytes": prefs.storage_alert_bytes,
        "trash_retention_days": prefs.trash_retention_days,
    }


@router.get("/preferences", response=PreferencesOut, tags=["preferences"], summary="Preferences")
def preferences_read(request):
    if not policy.can_change_preferences(request.auth):
        raise NotAllowed("Only master admins see and change preferences.")
    return _preferences_out()


@router.patch("/preferences", response=PreferencesOut, tags=["preferences"], summary="Change")
def preferences_change(request, payload: PreferencesPatch):
    changes = payload.model_dump(exclude_unset=True)
    nullable = ("seat_limit", "storage_alert_bytes")
    for field in [f for f in PreferencesPatch.model_fields if f not in nullable]:
        if field in changes and changes[field] is None:
            raise ValidationFailed(f"{field} cannot be null.", field=field)
    preferences_update(actor=request.auth, changes=changes)
    return _preferences_out()
