"""Reads for the library: permission-filtered through the policy, shaped for the page."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from accounts import policy
from accounts.policy import Level
from assets.models import Asset, Folder


def folder_children(*, user, parent: Folder | None) -> QuerySet[Folder]:
    """Sub-folders shown under `parent`; at the top, the user's granted roots."""
    if parent is not None:
        return policy.visible_folders(user, Folder.objects.filter(parent=parent))
    top = policy.access_for(user).top_folder_ids()
    if top is None:
        return Folder.objects.filter(parent__isnull=True)
    return Folder.objects.filter(pk__in=top)


def folder_tree(*, user, current: Folder | None) -> list[tuple[Folder, int]]:
    """The sidebar tree: top folders plus the children along the path to `current`.

    Returns (folder, indent) pairs in tree order; never loads the whole tree.
    """
    folders = {f.pk: f for f in folder_children(user=user, parent=None)}
    if current is not None:
        along = policy.visible_folders(
            user, Folder.objects.filter(parent_id__in=current.ancestor_ids)
        )
        folders.update((f.pk, f) for f in along)
    ordered = sorted(
        folders.values(), key=lambda f: [part.casefold() for part in f.path.split("/")]
    )
    return [(f, sum(1 for a in f.ancestor_ids[:-1] if a in folders)) for f in ordered]


def folder_breadcrumbs(*, user, folder: Folder) -> list[Folder]:
    """The visible part of the folder's path (a user granted on /A/B never sees A)."""
    chain = Folder.objects.filter(pk__in=folder.ancestor_ids)
    visible = {f.pk: f for f in policy.visible_folders(user, chain)}
    return [visible[pk] for pk in folder.ancestor_ids if pk in visible]


def folder_assets(*, user, folder: Folder) -> QuerySet[Asset]:
    """The assets of a folder the caller has already checked with the policy.

    Grants cascade, so every asset in a visible folder is visible: adding the
    `ancestors && roots` filter here only makes PostgreSQL AND a large bitmap into a
    small one (measured: 24 ms against 1.5 ms for a broad user at 1M assets).
    """
    if policy.access_for(user).folder_level(folder) == Level.NONE:
        return Asset.objects.none()
    return Asset.objects.filter(folder=folder).select_related("created_by")


@dataclass(frozen=True)
class ShareRow:
    principal_type: str  # "user" | "group"
    principal_id: int
    name: str
    detail: str
    level: Level
    folder: Folder  # where the grant is
    inherited: bool


@dataclass(frozen=True)
class Inherited:
    level: Level
    folder: Folder | None


def folder_shares(*, folder: Folder) -> list[ShareRow]:
    """Every grant that applies to the folder: on it, or inherited from an ancestor."""
    from accounts.models import FolderGroupGrant, FolderUserGrant

    chain = {f.pk: f for f in Folder.all_objects.filter(pk__in=folder.ancestor_ids)}
    rows: list[ShareRow] = []
    user_grants = FolderUserGrant.objects.filter(content_object_id__in=chain).select_related(
        "user", "permission"
    )
    for g in user_grants:
        rows.append(
            ShareRow(
                "user",
                g.user_id,
                g.user.display_name,
                g.user.email if g.user.get_full_name() else "",
                Level.from_codename(g.permission.codename),
                chain[g.content_object_id],
                g.content_object_id != folder.pk,
            )
        )
    group_grants = (
        FolderGroupGrant.objects.filter(content_object_id__in=chain)
        .select_related("group", "permission")
        .annotate(
            member_count=Count(
                "group__user",
                filter=~Q(group__user__status="inactive"),
                distinct=True,
            )
        )
    )
    for g in group_grants:
        members = f"{g.member_count} member{'s' if g.member_count != 1 else ''}"
        rows.append(
            ShareRow(
                "group",
                g.group_id,
                g.group.name,
                members,
                Level.from_codename(g.permission.codename),
                chain[g.content_object_id],
                g.content_object_id != folder.pk,
            )
        )
    depth = {pk: i for i, pk in enumerate(folder.ancestor_ids)}
    rows.sort(key=lambda r: (r.inherited is False, depth[r.folder.pk], r.principal_type, r.name))
    return rows


def inherited_level(*, folder: Folder, principal) -> Inherited:
    """The principal's highest grant on a strict ancestor of the folder."""
    from django.contrib.auth.models import Group

    from accounts.models import FolderGroupGrant, FolderUserGrant

    ancestors = folder.ancestor_ids[:-1]
    if not ancestors:
        return Inherited(Level.NONE, None)
    if isinstance(principal, Group):
        grants = FolderGroupGrant.objects.filter(group=principal, content_object_id__in=ancestors)
    else:
        grants = FolderUserGrant.objects.filter(user=principal, content_object_id__in=ancestors)
    best = Inherited(Level.NONE, None)
    for grant in grants.select_related("permission", "content_object"):
        level = Level.from_codename(grant.permission.codename)
        if level > best.level:
            best = Inherited(level, grant.content_object)
    return best


def move_targets(*, user, folder: Folder, query: str = "", limit: int = 50) -> list[Folder]:
    """Folders this one may move into (contribute or more, not itself or below it),
    matching `query` in their path; the dialog asks as the user types."""
    qs = policy.visible_folders(user, minimum=Level.CONTRIBUTE).exclude(
        ancestor_ids__contains=[folder.pk]
    )
    if folder.parent_id:
        qs = qs.exclude(pk=folder.parent_id)
    query = query.replace("\x00", "").strip()[:200]
    if query:
        qs = qs.filter(path__icontains=query)
    return list(qs.order_by("path")[:limit])


def principal_get(
    *, principal_type: str, principal_id, include_inactive: bool = False
) -> object | None:
    """A user (not inactive, unless asked: to remove old shares) or group, or None."""
    from django.contrib.auth.models import Group

    from accounts.models import User, UserStatus

    try:
        pk = int(principal_id)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    if principal_type == "group":
        return Group.objects.filter(pk=pk).first()
    if principal_type == "user":
        users = (
            User.objects.all()
            if include_inactive
            else User.objects.exclude(status=UserStatus.INACTIVE)
        )
        return users.filter(pk=pk).first()
    return None


def share_candidates() -> dict[str, list[tuple[str, str]]]:
    """(value, label) choices of users (not inactive) and groups for the share dialog."""
    from django.contrib.auth.models import Group

    from accounts.models import User, UserStatus

    users = User.objects.exclude(status=UserStatus.INACTIVE).only(
        "id", "email", "first_name", "last_name"
    )
    return {
        "groups": [(f"group:{g.pk}", g.name) for g in Group.objects.order_by("name")],
        "users": [
            (f"user:{u.pk}", f"{u.email} — {u.get_full_name()}" if u.get_full_name() else u.email)
            for u in users.order_by("email")
        ],
    }


# -- trash (issue 4: trash & bulk) -----------------------------------------------------
def trash_entries(*, user):
    """What the user may restore: assets deleted on their own and folders deleted from the
    library (each with what went with it), under folders where they have manage. One
    ordered (kind, id, deleted_at) queryset so pages slice in the database."""
    from django.db.models import CharField, F, Value

    assets = policy.visible_assets(
        user,
        Asset.all_objects.filter(deleted_at__isnull=False, deleted_with__isnull=True),
        minimum=Level.MANAGE,
    ).values_list(Value("asset", output_field=CharField()), "id", "deleted_at")
    folders = policy.visible_folders(
        user,
        Folder.all_objects.filter(deleted_at__isnull=False, deleted_with_id=F("pk")),
        minimum=Level.MANAGE,
    ).values_list(Value("folder", output_field=CharField()), "id", "deleted_at")
    return assets.union(folders, all=True).order_by("-deleted_at", "-id")


def trash_rows(rows) -> list[dict]:
    """Load the objects of a page of trash_entries()."""
    from django.db.models import Count

    rows = list(rows)
    asset_ids = [pk for kind, pk, _ in rows if kind == "asset"]
    folder_ids = [pk for kind, pk, _ in rows if kind == "folder"]
    assets = Asset.all_objects.select_related("folder", "deleted_by").in_bulk(asset_ids)
    folders = Folder.all_objects.in_bulk(folder_ids)
    counts = dict(
        Asset.all_objects.filter(deleted_with_id__in=folder_ids)
        .values_list("deleted_with_id")
        .annotate(n=Count("id"))
    )
    out = []
    for kind, pk, deleted_at in rows:
        obj = assets.get(pk) if kind == "asset" else folders.get(pk)
        if obj is None:
            continue
        out.append(
            {
                "kind": kind,
                "obj": obj,
                "deleted_at": deleted_at,
                "assets": counts.get(pk, 0) if kind == "folder" else None,
            }
        )
    return out


def asset_comments(*, asset: Asset):
    return asset.comments.select_related("author")


def asset_move_targets(*, user, query: str = "", limit: int = 50) -> list[Folder]:
    qs = policy.visible_folders(user, minimum=Level.CONTRIBUTE)
    query = query.replace("\x00", "").strip()[:200]  # a NUL never reaches PostgreSQL
    if query:
        qs = qs.filter(path__icontains=query)
    return list(qs.order_by("path")[:limit])


# -- versions and presets (issue 4: presets & versions) -------------------------------
def asset_versions(*, asset):
    """An asset's versions, newest first, with their uploader and whether a thumbnail exists."""
    from django.db.models import Exists, OuterRef

    from assets.models import AssetVersion, Rendition

    return (
        AssetVersion.objects.filter(asset=asset)
        .select_related("created_by")
        .annotate(has_thumb=Exists(Rendition.objects.filter(version=OuterRef("pk"), spec="thumb")))
        .order_by("-number")
    )


def upload_presets():
    from assets.models import UploadPreset

    return UploadPreset.objects.select_related("folder").order_by("name")


def trashed_asset_or_404(*, user, asset_id) -> Asset:
    """An asset in the trash that the user may restore or purge (manage level)."""
    trashed = Asset.all_objects.select_related("folder").filter(deleted_at__isnull=False)
    return policy.get_asset_or_404(user, asset_id, minimum=Level.MANAGE, queryset=trashed)


def trashed_folder_or_404(*, user, folder_id) -> Folder:
    """A deleted folder the user may restore or purge (manage level)."""
    trashed = Folder.all_objects.filter(deleted_at__isnull=False)
    return policy.get_folder_or_404(user, folder_id, minimum=Level.MANAGE, queryset=trashed)
