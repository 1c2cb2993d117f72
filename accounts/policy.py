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
from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import (
    CollectionGroupGrant,
    CollectionUserGrant,
    FolderGroupGrant,
    FolderUserGrant,
    Role,
    User,
    UserStatus,
)

if TYPE_CHECKING:
    from assets.models import Asset, Collection, Folder


class Level(IntEnum):
    """A user's level on a folder, and so on its assets.

    COLLECTION is not a folder level (never granted on a folder): it is what a user has on
    an asset they see only through a collection shared with them, view and download and
    nothing more. Routes that allow it ask for it explicitly (`minimum=Level.COLLECTION`);
    everything else asks for VIEW or more and answers such a user 403, not 404.
    """

    NONE = 0
    COLLECTION = 1
    VIEW = 2
    CONTRIBUTE = 3
    EDIT = 4
    MANAGE = 5

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def folder_levels(cls) -> list[Level]:
        return [cls.VIEW, cls.CONTRIBUTE, cls.EDIT, cls.MANAGE]

    @property
    def codename(self) -> str:
        return f"{self.name.lower()}_folder"

    @classmethod
    def from_codename(cls, codename: str) -> Level:
        return cls[codename.removesuffix("_folder").upper()]

    @classmethod
    def from_label(cls, label: str) -> Level:
        level = cls[label.upper()]
        if level not in cls.folder_levels():
            raise KeyError(label)
        return level


class CollectionLevel(IntEnum):
    """Levels on a collection, each a superset of the one before (DESIGN.md)."""

    NONE = 0
    VIEW = 1
    SHARE = 2
    COLLABORATE = 3
    MANAGE = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def codename(self) -> str:
        return f"{self.name.lower()}_collection"

    @classmethod
    def granted(cls) -> list[CollectionLevel]:
        return [cls.VIEW, cls.SHARE, cls.COLLABORATE, cls.MANAGE]

    @classmethod
    def from_codename(cls, codename: str) -> CollectionLevel:
        return cls[codename.removesuffix("_collection").upper()]

    @classmethod
    def from_label(cls, label: str) -> CollectionLevel:
        level = cls[str(label).upper()]
        if level is cls.NONE:
            raise KeyError(label)
        return level


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


def can_see_activity(user) -> bool:
    """The activity report (every audited action): admin roles and reports, not billing."""
    return _active(user) and (user.role in ADMIN_ROLES or user.role == Role.REPORTS)


def can_use_library(user) -> bool:
    return _active(user) and user.role in LIBRARY_ROLES


def can_manage_users(user) -> bool:
    return _active(user) and user.role in USER_MANAGER_ROLES


def can_change_preferences(user) -> bool:
    return _active(user) and user.role == Role.MASTER_ADMIN


def can_manage_metadata(user) -> bool:
    """Structured metadata fields and rules are defined by master admins."""
    return _active(user) and user.role == Role.MASTER_ADMIN


def can_manage_automation(user) -> bool:
    """Automation rules (Settings → Automation) act on any asset: admin roles only."""
    return is_admin_role(user)


def can_read_metadata_schema(user) -> bool:
    """Everyone who works in the library sees the fields (forms, search, the API)."""
    return can_use_library(user) or can_manage_metadata(user)


def can_see_reports(user) -> bool:
    return _active(user) and user.role in REPORT_ROLES


def can_see_analytics(user) -> bool:
    """What is viewed, downloaded and searched: whoever sees the activity report (billing
    sees the usage figures only)."""
    return can_see_activity(user)


def can_moderate_somewhere(user) -> bool:
    return is_admin_role(user) or (
        can_use_library(user) and user.role == Role.MEDIA_LIBRARY_USER and user.can_moderate_assets
    )


def can_moderate_asset(user, asset) -> bool:
    """Admin roles moderate everything; media library users with the moderate permission
    moderate assets in folders where they have edit or manage."""
    if is_admin_role(user):
        return True
    return (
        can_moderate_somewhere(user)
        and access_for(user).level_on_chain(asset.ancestors) >= Level.EDIT
    )


def can_use_delivery_urls(user) -> bool:
    """View and copy delivery URLs, sign them, and change access control: admin roles, and
    media library users with the delivery-URL permission."""
    return is_admin_role(user) or (can_use_library(user) and user.can_use_delivery_urls)


def delivery_public_now(asset, now=None) -> bool:
    """Delivered by plain URL to anyone: public (inside its public window, when it has
    one), not pending or rejected, not expired, not in the trash, processed."""
    from assets.models import ModerationStatus, ProcessingStatus

    if asset.deleted_at is not None or asset.processing_status != ProcessingStatus.READY:
        return False
    if asset.moderation_status in (ModerationStatus.PENDING, ModerationStatus.REJECTED):
        return False
    return access_state(asset, now) == "public"


def delivery_signable(asset) -> bool:
    """Delivered with a valid signed token: anything a plain URL could reach were it
    public, whatever its mode, window or expiry (moderation still applies)."""
    from assets.models import ModerationStatus, ProcessingStatus

    return (
        asset.deleted_at is None
        and asset.processing_status == ProcessingStatus.READY
        and asset.moderation_status not in (ModerationStatus.PENDING, ModerationStatus.REJECTED)
    )


def access_state(asset, now=None) -> str:
    """public, restricted, scheduled (public later), ended (its public window is over) or
    expired: what delivery obeys and the page and library badges say."""
    from django.utils import timezone

    from assets.models import AccessMode

    now = now or timezone.now()
    if asset.expires_at is not None and asset.expires_at <= now:
        return "expired"
    if asset.access_mode != AccessMode.PUBLIC:
        return "restricted"
    if asset.public_from is not None and now < asset.public_from:
        return "scheduled"
    if asset.public_until is not None and now >= asset.public_until:
        return "ended"
    return "public"


def can_download_original(user, asset) -> bool:
    """The "block downloads of restricted assets" preference: only admins download the
    originals of restricted assets while it is on (outside its public window or past its
    expiry an asset is restricted too; the caller checked visibility)."""
    from dam.preferences import preferences_get

    if is_admin_role(user) or access_state(asset) == "public":
        return True
    return not preferences_get().block_restricted_downloads


def downloadable_originals(user, assets) -> list:
    """The assets whose originals this user may download (zips)."""
    return [a for a in assets if can_download_original(user, a)]


def can_sign_delivery_url(user, asset, *, original: bool) -> bool:
    """Make a signed delivery URL: the delivery-URL permission, folder access (not only
    a shared collection), and, for the original file, what downloading it needs."""
    if not can_use_delivery_urls(user):
        return False
    if access_for(user).asset_level(asset) < Level.VIEW:
        return False
    return not original or can_download_original(user, asset)


BLOCKED_DOWNLOAD = "Downloads of restricted assets are blocked; ask an admin for the file."


def check_original_download(user, asset) -> None:
    """403 (the asset is visible) when the preference blocks this original download."""
    if not can_download_original(user, asset):
        raise PermissionDenied(BLOCKED_DOWNLOAD)


def can_create_top_level_folder(user) -> bool:
    return is_admin_role(user)


def can_create_collections(user) -> bool:
    """Admin roles, and media library users with the create-collections permission."""
    return is_admin_role(user) or (can_use_library(user) and user.can_create_collections)


def can_share_collections(user) -> bool:
    """Inviting and publishing need this besides share level on the collection."""
    return is_admin_role(user) or (can_use_library(user) and user.can_share_collections)


@dataclass(frozen=True)
class _Grant:
    folder_id: int
    ancestor_ids: tuple[int, ...]
    level: Level


OWNER = 0  # the "permission id" of a collection's creator: manage
_CODENAMES: dict[int, str] = {}


def _codename(permission_id: int) -> str:
    """A level permission's codename by id (a few rows that never change once made;
    remembered per process, read again on an id not seen yet)."""
    if permission_id == OWNER:
        return CollectionLevel.MANAGE.codename
    if permission_id not in _CODENAMES:
        from django.contrib.auth.models import Permission

        _CODENAMES.update(Permission.objects.values_list("pk", "codename"))
    return _CODENAMES[permission_id]


def _access_sql(*, collections: bool) -> str:
    """One user's folder grants (is_folder, folder id, its chain, permission id) and, with
    `collections`, the collections they own (OWNER) or were invited to, directly or
    through groups. Written out, not composed by the ORM: composing a five-way union
    cost more than running it, on every request."""
    from assets.models import Collection, Folder

    groups = f"SELECT group_id FROM {User.groups.through._meta.db_table} WHERE user_id = %(user)s"
    folder = Folder._meta.db_table
    parts = [
        f"SELECT true, g.content_object_id, f.ancestor_ids, g.permission_id "
        f"FROM {model._meta.db_table} g JOIN {folder} f ON f.id = g.content_object_id "
        f"WHERE {where}"
        for model, where in (
            (FolderUserGrant, "g.user_id = %(user)s"),
            (FolderGroupGrant, f"g.group_id IN ({groups})"),
        )
    ]
    if collections:
        parts.append(
            f"SELECT false, c.id, NULL, {OWNER} FROM {Collection._meta.db_table} c "
            "WHERE c.created_by_id = %(user)s"
        )
        parts += [
            f"SELECT false, g.content_object_id, NULL, g.permission_id "
            f"FROM {model._meta.db_table} g WHERE {where}"
            for model, where in (
                (CollectionUserGrant, "g.user_id = %(user)s"),
                (CollectionGroupGrant, f"g.group_id IN ({groups})"),
            )
        ]
    return " UNION ALL ".join(parts)


class FolderAccess:
    """One user's folder access, computed once per request."""

    def __init__(self, user) -> None:
        self.user = user
        self.is_admin = is_admin_role(user)
        self._grants: list[_Grant] | None = None
        self._collections: dict[int, CollectionLevel] | None = None
        self._shared_assets: dict[int, bool] = {}  # asset id: in one of my collections

    # -- loading -----------------------------------------------------------------------
    @property
    def grants(self) -> list[_Grant]:
        if self._grants is None:
            self._load()
        return self._grants

    @property
    def collection_levels(self) -> dict[int, CollectionLevel]:
        """{collection id: level} of the collections this user created or was invited to
        (directly or through a group); empty for admins, who manage every collection."""
        if self._collections is None:
            self._load()
        return self._collections

    def _load(self) -> None:
        """Folder grants and collection levels in one query (a request that needs one
        nearly always needs the other: every restricted list asks both)."""
        from django.db import connection

        self._grants, self._collections = [], {}
        if not can_use_library(self.user):
            return
        sql = _access_sql(collections=not self.is_admin)
        with connection.cursor() as cursor:
            cursor.execute(sql, {"user": self.user.pk})
            rows = cursor.fetchall()
        levels: dict[int, CollectionLevel] = {}
        for is_folder, pk, ancestors, permission_id in rows:
            codename = _codename(permission_id)
            if is_folder:
                self._grants.append(_Grant(pk, tuple(ancestors), Level.from_codename(codename)))
            else:
                level = CollectionLevel.from_codename(codename)
                levels[pk] = max(levels.get(pk, CollectionLevel.NONE), level)
        if not self.is_admin:
            self._collections = levels

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
        """The folder level, or COLLECTION when only a shared collection shows the asset."""
        level = self.level_on_chain(asset.ancestors)
        if level != Level.NONE or asset.deleted_at is not None or not self.collection_levels:
            return level  # a trashed asset is never reached through a collection
        if asset.pk not in self._shared_assets:
            from assets.models import CollectionItem

            shared = CollectionItem.objects.filter(
                asset_id=asset.pk, collection_id__in=list(self.collection_levels)
            )
            self._shared_assets[asset.pk] = shared.exists()
        return Level.COLLECTION if self._shared_assets[asset.pk] else level

    def collection_level(self, collection: Collection) -> CollectionLevel:
        if self.is_admin:
            return CollectionLevel.MANAGE
        return self.collection_levels.get(collection.pk, CollectionLevel.NONE)

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
        """Assets at `minimum` or more. With `minimum=Level.COLLECTION` the assets of the
        collections shared with the user count too (OR'd with the folder filter)."""
        if self.is_admin:
            return queryset
        roots = self.root_ids(max(minimum, Level.VIEW))
        visible = Q(ancestors__overlap=roots) if roots else None
        if minimum <= Level.COLLECTION and self.collection_levels:
            from assets.models import CollectionItem

            items = CollectionItem.objects.filter(collection_id__in=list(self.collection_levels))
            shared = Q(pk__in=items.values("asset_id"))
            visible = shared if visible is None else visible | shared
        if visible is None:
            return queryset.none()
        return queryset.filter(visible)

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
    level = access_for(user).folder_level(folder) if folder else Level.NONE
    return _checked(folder, level, minimum, "No such folder.")


def get_asset_or_404(user, asset_id, minimum: Level = Level.VIEW, queryset=None) -> Asset:
    from assets.models import Asset

    qs = queryset if queryset is not None else Asset.objects.select_related("folder")
    asset = qs.filter(pk=asset_id).first() if is_valid_id(asset_id) else None
    level = access_for(user).asset_level(asset) if asset else Level.NONE
    return _checked(asset, level, minimum, "No such asset.")


def _checked(obj, level, minimum, missing: str):
    """Absent and invisible are the same 404; visible but too low a level is 403."""
    if obj is None or level == 0:
        raise Http404(missing)
    if level < minimum:
        if isinstance(minimum, CollectionLevel):
            raise PermissionDeniedForCollection(minimum, level)
        raise PermissionDeniedForLevel(minimum, level)
    return obj


def get_collection_or_404(
    user, collection_id, minimum: CollectionLevel = CollectionLevel.VIEW, queryset=None
) -> Collection:
    from assets.models import Collection

    qs = queryset if queryset is not None else Collection.objects.select_related("created_by")
    found = qs.filter(pk=collection_id).first() if is_valid_id(collection_id) else None
    level = CollectionLevel.NONE
    if found is not None and can_use_library(user):
        level = access_for(user).collection_level(found)
    return _checked(found, level, minimum, "No such collection.")


def get_collection_to_share_or_404(user, collection_id) -> Collection:
    """A collection whose invites and public link the user may manage: share level and
    the share-collections permission (admin roles always)."""
    collection = get_collection_or_404(user, collection_id, CollectionLevel.SHARE)
    if not can_share_collections(user):
        raise PermissionDeniedForSharing()
    return collection


def library_user_or_404(user):
    """The user, if their role works in the media library; otherwise the page is absent."""
    if not can_use_library(user):
        raise Http404("No such page.")
    return user


def valid_ids(values) -> list[int]:
    """The values that are primary keys (positive bigints written in ASCII digits)."""
    return [int(v) for v in values if str(v).isascii() and str(v).isdigit() and is_valid_id(v)]


def visible_collections(user, queryset=None) -> QuerySet:
    from assets.models import Collection

    qs = queryset if queryset is not None else Collection.objects.all()
    if not can_use_library(user):
        return qs.none()
    access = access_for(user)
    if access.is_admin:
        return qs
    return qs.filter(pk__in=list(access.collection_levels))


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

    def __init__(self, needed, have) -> None:
        self.needed = needed
        self.have = have
        super().__init__(self.describe(needed, have))

    @staticmethod
    def describe(needed, have) -> str:
        if have == Level.COLLECTION:
            return (
                "You see this asset through a shared collection: you can view and download "
                "it, nothing more."
            )
        return f"This needs {needed.label} access to the folder; you have {have.label} access."


class PermissionDeniedForSharing(PermissionDeniedForLevel):
    def __init__(self) -> None:
        super().__init__(CollectionLevel.SHARE, CollectionLevel.SHARE)

    @staticmethod
    def describe(needed, have) -> str:
        return "You need the share-collections permission to see invites or publish."


class PermissionDeniedForCollection(PermissionDeniedForLevel):
    @staticmethod
    def describe(needed, have) -> str:
        return f"This needs {needed.label} access to the collection; you have {have.label} access."


def is_valid_id(value) -> bool:
    """A value usable as a primary key (a positive bigint)."""
    try:
        return 0 < int(value) < 2**63
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
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
