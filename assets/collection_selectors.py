"""Reads of collections, permission-filtered by the policy."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from accounts import policy
from accounts.policy import CollectionLevel
from assets.models import (
    AccessMode,
    Asset,
    Collection,
    CollectionItem,
    CollectionLink,
    ModerationStatus,
    ProcessingStatus,
)

COVERS = 4
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,64}")  # what secrets.token_urlsafe makes
SCOPES = ("all", "mine", "shared")


def _live_count():
    """Live assets in the collection (trashed ones come back on restore)."""
    return Count("items", filter=Q(items__asset__deleted_at__isnull=True))


def collections_visible(user, *, scope: str = "all", query: str = "") -> QuerySet:
    """The collections the user sees, newest change first, with `asset_count`.
    `mine`: created by the user; `shared`: shared with the user (or a group of theirs)."""
    qs = policy.visible_collections(user, Collection.objects.select_related("created_by"))
    if scope == "mine":
        qs = qs.filter(created_by=user)
    elif scope == "shared":
        qs = qs.exclude(created_by=user)
        if policy.access_for(user).is_admin:  # admins see all; "shared" means invited
            from accounts.models import CollectionGroupGrant, CollectionUserGrant

            direct = CollectionUserGrant.objects.filter(user=user)
            grouped = CollectionGroupGrant.objects.filter(group__user=user)
            qs = qs.filter(
                Q(pk__in=direct.values("content_object_id"))
                | Q(pk__in=grouped.values("content_object_id"))
            )
    if query:
        qs = qs.filter(Q(name__icontains=query) | Q(description__icontains=query))
    return qs.annotate(asset_count=_live_count()).order_by("-updated_at", "-id")


def attach_covers(collections) -> None:
    """Set `covers` (up to four live assets, in collection order) on each collection of a
    page, in one query whatever the page size."""
    collections = list(collections)
    for c in collections:
        c.covers = []
    if not collections:
        return
    by_id = {c.pk: c for c in collections}
    items = (
        CollectionItem.objects.filter(collection_id__in=by_id, asset__deleted_at__isnull=True)
        .annotate(
            rank=Window(RowNumber(), partition_by="collection_id", order_by=["position", "id"])
        )
        .filter(rank__lte=COVERS)
        .select_related("asset")
    )
    for item in items:
        by_id[item.collection_id].covers.append(item.asset)


def attach_levels(user, collections) -> None:
    access = policy.access_for(user)
    for c in collections:
        c.my_level = access.collection_level(c)


def collection_assets(collection: Collection) -> QuerySet:
    """Live assets of the collection in its order (anyone who sees the collection sees
    all of them: collection access is the permission)."""
    position = CollectionItem.objects.filter(collection=collection, asset=OuterRef("pk")).values(
        "position"
    )[:1]
    return (
        Asset.objects.filter(collection_items__collection=collection)
        .select_related("folder", "created_by")
        .annotate(collection_position=Subquery(position))
        .order_by("collection_position", "-id")
    )


@dataclass(frozen=True)
class Share:
    principal_type: str  # "user" | "group"
    principal: object
    level: CollectionLevel

    @property
    def name(self) -> str:
        """What the shares list calls the invitee: a group's name, a user's full name or
        email (the template could not ask a group for a user's name without failing)."""
        if self.principal_type == "group":
            return self.principal.name
        return self.principal.get_full_name() or self.principal.email


def collection_shares(collection: Collection) -> list[Share]:
    """The collection's invites: users (by name) then groups (by name)."""
    from accounts.models import CollectionGroupGrant, CollectionUserGrant

    users = (
        CollectionUserGrant.objects.filter(content_object=collection)
        .select_related("user", "permission")
        .order_by("user__first_name", "user__last_name", "user__email")
    )
    groups = (
        CollectionGroupGrant.objects.filter(content_object=collection)
        .select_related("group", "permission")
        .order_by("group__name")
    )
    rows = [
        Share("user", g.user, CollectionLevel.from_codename(g.permission.codename)) for g in users
    ]
    rows += [
        Share("group", g.group, CollectionLevel.from_codename(g.permission.codename))
        for g in groups
    ]
    return rows


def live_link(collection: Collection) -> CollectionLink | None:
    link = CollectionLink.objects.filter(collection=collection, revoked_at__isnull=True).first()
    return link if link is not None and link.is_live() else None


def link_by_token(token: str) -> CollectionLink | None:
    """The live public link with this token; revoked, expired and unknown are None."""
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        return None
    link = (
        CollectionLink.objects.select_related("collection")
        .filter(token=token, revoked_at__isnull=True)
        .first()
    )
    if link is None or not link.is_live(timezone.now()):
        return None
    return link


def public_assets(collection: Collection) -> QuerySet:
    """What a published page shows: live, public, processed assets that moderation has
    not held back (pending and rejected never go out)."""
    return collection_assets(collection).filter(
        access_mode=AccessMode.PUBLIC,
        moderation_status__in=[ModerationStatus.NOT_MODERATED, ModerationStatus.APPROVED],
        processing_status=ProcessingStatus.READY,
    )


def attach_published(collections) -> None:
    """Set `published` (a live public link exists) on each collection, in one query."""
    collections = list(collections)
    if not collections:
        return
    live = set(
        CollectionLink.objects.filter(
            collection_id__in=[c.pk for c in collections], revoked_at__isnull=True
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .values_list("collection_id", flat=True)
    )
    for c in collections:
        c.published = c.pk in live


ADD_TARGETS_MAX = 200


def add_targets(user) -> list[Collection]:
    """Collections the user may add to (collaborate or more): the most recently changed
    first, at most ADD_TARGETS_MAX (an admin sees every collection)."""
    access = policy.access_for(user)
    rows = policy.visible_collections(user).only("id", "name").order_by("-updated_at", "-id")
    if not access.is_admin:
        allowed = [
            pk
            for pk, level in access.collection_levels.items()
            if level >= CollectionLevel.COLLABORATE
        ]
        rows = rows.filter(pk__in=allowed)
    return list(rows[:ADD_TARGETS_MAX])
