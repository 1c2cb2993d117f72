"""The permission policy: the one place that answers every access question.

Folder levels cascade down the tree (DESIGN.md "Folder sharing"). A user's grants are
loaded once per request (two small queries), collapsed to the minimal set of granted
subtree roots, and turned into either a level for one folder or an array-overlap filter
on `ancestors` for lists. Invisible objects are reported as absent, never as forbidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import FolderGroupGrant, FolderUserGrant, Role, UserStatus

if TYPE_CHECKING:
    from assets.models import Asset, Folder


class Level(IntEnum):
    NONE = 0
    VIEW = 1
    CONTRIBUTE = 2
    EDIT = 3
    MANAGE = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def codename(self) -> str:
        return f"{self.name.lower()}_folder"

    @classmethod
    def from_codename(cls, codename: str) -> Level:
        return cls[codename.removesuffix("_folder").upper()]

    @classmethod
    def from_label(cls, label: str) -> Level:
        return cls[label.upper()]


ADMIN_ROLES = frozenset(
    {Role.MASTER_ADMIN, Role.ADMIN, Role.TECHNICAL_ADMIN, Role.MEDIA_LIBRARY_ADMIN}
)
LIBRARY_ROLES = ADMIN_ROLES | {Role.MEDIA_LIBRARY_USER}
USER_MANAGER_ROLES = frozenset({Role.MASTER_ADMIN, Role.ADMIN})
REPORT_ROLES = ADMIN_ROLES | {Role.REPORTS, Role.BILLING}


def _active(user) -> bool:
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.status != UserStatus.INACTIVE
    )


def is_admin_role(user) -> bool:
    """Admin roles access, share and manage every folder and asset."""
    return _active(user) and user.role in ADMIN_ROLES


def can_use_library(user) -> bool:
    return _active(user) and user.role in LIBRARY_ROLES


def can_manage_users(user) -> bool:
    return _active(user) and user.role in USER_MANAGER_ROLES


def can_change_preferences(user) -> bool:
    return _active(user) and user.role == Role.MASTER_ADMIN


def can_manage_metadata(user) -> bool:
    """Structured metadata fields and rules are defined by master admins."""
    return _active(user) and user.role == Role.MASTER_ADMIN


def can_read_metadata_schema(user) -> bool:
    """Everyone who works in the library sees the fields (forms, search, the API)."""
    return can_use_library(user) or can_manage_metadata(user)


def can_see_reports(user) -> bool:
    return _active(user) and user.role in REPORT_ROLES


def can_moderate_somewhere(user) -> bool:
    return is_admin_role(user) or (
        can_use_library(user) and user.role == Role.MEDIA_LIBRARY_USER and user.can_moderate_assets
    )


def can_create_top_level_folder(user) -> bool:
    return is_admin_role(user)


@dataclass(frozen=True)
class _Grant:
    folder_id: int
    ancestor_ids: tuple[int, ...]
    level: Level


class FolderAccess:
    """One user's folder access, computed once per request."""

    def __init__(self, user) -> None:
        self.user = user
        self.is_admin = is_admin_role(user)
        self._grants: list[_Grant] | None = None

    # -- loading -----------------------------------------------------------------------
    @property
    def grants(self) -> list[_Grant]:
        if self._grants is None:
            self._grants = self._load_grants() if can_use_library(self.user) else []
        return self._grants

    def _load_grants(self) -> list[_Grant]:
        fields = (
            "content_object_id",
            "content_object__ancestor_ids",
            "permission__codename",
        )
        rows = list(FolderUserGrant.objects.filter(user=self.user).values_list(*fields))
        rows += FolderGroupGrant.objects.filter(group__user=self.user).values_list(*fields)
        return [
            _Grant(folder_id, tuple(ancestors), Level.from_codename(codename))
            for folder_id, ancestors, codename in rows
        ]

    # -- single objects ----------------------------------------------------------------
    def level_on_chain(self, folder_ids) -> Level:
        """The highest grant on any folder of a root-to-leaf chain of folder ids."""
        if self.is_admin:
            return Level.MANAGE
        chain = set(folder_ids)
        return max((g.level for g in self.grants if g.folder_id in chain), default=Level.NONE)

    def folder_level(self, folder: Folder) -> Level:
        return self.level_on_chain(folder.ancestor_ids)

    def visible_start(self, chain) -> int:
        """Index of the first folder of a chain this user can see (above it: invisible)."""
        if self.is_admin:
            return 0
        granted = {g.folder_id for g in self.grants}
        return next((i for i, pk in enumerate(chain) if pk in granted), len(chain))

    def visible_path(self, folder: Folder) -> str:
        """The folder's path from its first visible ancestor: invisible names never show."""
        names = folder.path.split("/")[1:]
        return "/" + "/".join(names[self.visible_start(folder.ancestor_ids) :])

    def describe_folder(self, folder: Folder) -> str:
        """How to name a folder to this user: its visible path, or a neutral phrase."""
        if self.folder_level(folder) == Level.NONE:
            return "a folder above that you cannot see"
        return self.visible_path(folder)

    def visible_parent_id(self, folder: Folder) -> int | None:
        start = self.visible_start(folder.ancestor_ids)
        return folder.parent_id if start < len(folder.ancestor_ids) - 1 else None

    def asset_level(self, asset: Asset) -> Level:
        return self.level_on_chain(asset.ancestors)

    # -- lists -------------------------------------------------------------------------
    def root_ids(self, minimum: Level = Level.VIEW) -> list[int]:
        """The minimal set of granted subtree roots at `minimum` or higher."""
        granted = {g.folder_id: g for g in self.grants if g.level >= minimum}
        roots = [
            g.folder_id
            for g in granted.values()
            if not any(a in granted for a in g.ancestor_ids if a != g.folder_id)
        ]
        return sorted(roots)

    def filter_assets(self, queryset: QuerySet, minimum: Level = Level.VIEW) -> QuerySet:
        if self.is_admin:
            return queryset
        roots = self.root_ids(minimum)
        if not roots:
            return queryset.none()
        return queryset.filter(ancestors__overlap=roots)

    def filter_folders(self, queryset: QuerySet, minimum: Level = Level.VIEW) -> QuerySet:
        if self.is_admin:
            return queryset
        roots = self.root_ids(minimum)
        if not roots:
            return queryset.none()
        return queryset.filter(ancestor_ids__overlap=roots)

    def top_folder_ids(self) -> list[int] | None:
        """Folders shown at the library's top level: None means the real roots (admins)."""
        return None if self.is_admin else self.root_ids()


def access_for(user) -> FolderAccess:
    """The cached FolderAccess of this user object (request.user lives one request)."""
    cached = getattr(user, "_dam_folder_access", None)
    if cached is None:
        cached = FolderAccess(user)
        if user is not None:
            user._dam_folder_access = cached
    return cached


def reset_access_cache(user) -> None:
    if hasattr(user, "_dam_folder_access"):
        del user._dam_folder_access


# -- the questions views and the API ask ---------------------------------------------
def get_folder_or_404(user, folder_id, minimum: Level = Level.VIEW, queryset=None) -> Folder:
    """A folder the user may see at `minimum`; absent and invisible look the same."""
    from assets.models import Folder

    qs = queryset if queryset is not None else Folder.objects.all()
    folder = qs.filter(pk=folder_id).first() if is_valid_id(folder_id) else None
    return _checked(user, folder, folder and folder.ancestor_ids, minimum, "No such folder.")


def get_asset_or_404(user, asset_id, minimum: Level = Level.VIEW, queryset=None) -> Asset:
    from assets.models import Asset

    qs = queryset if queryset is not None else Asset.objects.select_related("folder")
    asset = qs.filter(pk=asset_id).first() if is_valid_id(asset_id) else None
    return _checked(user, asset, asset and asset.ancestors, minimum, "No such asset.")


def _checked(user, obj, chain, minimum: Level, missing: str):
    """Absent and invisible are the same 404; visible but too low a level is 403."""
    if obj is None:
        raise Http404(missing)
    level = access_for(user).level_on_chain(chain)
    if level == Level.NONE:
        raise Http404(missing)
    if level < minimum:
        raise PermissionDeniedForLevel(minimum, level)
    return obj


def visible_assets(user, queryset=None, minimum: Level = Level.VIEW) -> QuerySet:
    from assets.models import Asset

    qs = queryset if queryset is not None else Asset.objects.all()
    if not can_use_library(user):
        return qs.none()
    return access_for(user).filter_assets(qs, minimum)


def visible_folders(user, queryset=None, minimum: Level = Level.VIEW) -> QuerySet:
    from assets.models import Folder

    qs = queryset if queryset is not None else Folder.objects.all()
    if not can_use_library(user):
        return qs.none()
    return access_for(user).filter_folders(qs, minimum)


class PermissionDeniedForLevel(PermissionDenied):
    """Visible but not allowed: the caller shows 403 with a clear reason."""

    def __init__(self, needed: Level, have: Level) -> None:
        self.needed = needed
        self.have = have
        super().__init__(
            f"This needs {needed.label} access to the folder; you have {have.label} access."
        )


def is_valid_id(value) -> bool:
    """A value usable as a primary key (a positive bigint)."""
    try:
        return 0 < int(value) < 2**63
    except (TypeError, ValueError):
        return False


# -- user management (appended with the user lifecycle) ------------------------------
def can_manage_user(actor, target) -> bool:
    """Admins manage users and groups; only master admins manage master admins."""
    if not can_manage_users(actor):
        return False
    return target.role != Role.MASTER_ADMIN or actor.role == Role.MASTER_ADMIN


def can_assign_role(actor, role: str) -> bool:
    """Only a master admin makes another master admin."""
    return can_manage_users(actor) and (
        role != Role.MASTER_ADMIN or actor.role == Role.MASTER_ADMIN
    )
