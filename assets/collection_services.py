"""Every write to collections: in a transaction, audited (DESIGN.md "Collections").

Levels: view < share (+ invite, publish) < collaborate (+ add, remove, reorder assets) <
manage (+ rename, describe, delete). The creator manages; admin roles manage everything.
Inviting and publishing also need the user's share-collections permission. Adding an
asset needs at least view on its folder: collection access is never passed on.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time

from django.db import connection, transaction
from django.utils import timezone

from accounts import policy
from accounts.policy import CollectionLevel, Level
from assets.models import Asset, Collection, CollectionItem, CollectionLink
from assets.services import _is_group
from dam.errors import NotAllowed, ValidationFailed
from dam.services import audit_record

NAME_MAX = 200
DESCRIPTION_MAX = 5000
IDS_MAX = 500


# -- checks ---------------------------------------------------------------------------
def _require(actor, collection: Collection, minimum: CollectionLevel, action: str) -> None:
    have = policy.access_for(actor).collection_level(collection)
    if have < minimum:
        raise NotAllowed(
            f"You need {minimum.label} access to the collection to {action}; "
            f"you have {have.label} access."
        )


def _require_sharing(actor, collection: Collection, action: str) -> None:
    _require(actor, collection, CollectionLevel.SHARE, action)
    if not policy.can_share_collections(actor):
        raise NotAllowed(f"You need the share-collections permission to {action}.")


def _text(value, *, field: str, what: str, limit: int, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{what} is text.", field=field)
    value = value.strip()
    if required and not value:
        raise ValidationFailed(f"Enter a {what.lower()}.", field=field)
    if len(value) > limit:
        raise ValidationFailed(f"{what} has at most {limit} characters.", field=field)
    if "\x00" in value:
        raise ValidationFailed(f"{what} cannot contain NUL characters.", field=field)
    return value


def clean_ids(ids) -> list[int]:
    """A list of asset ids, deduplicated in order; refuses anything else clearly."""
    if not isinstance(ids, (list, tuple)) or not ids:
        raise ValidationFailed("Choose at least one asset.", field="ids")
    if len(ids) > IDS_MAX:
        raise ValidationFailed(f"At most {IDS_MAX} assets at a time.", field="ids")
    if not all(policy.is_valid_id(i) and not isinstance(i, bool) for i in ids):
        raise ValidationFailed("Asset ids are positive integers.", field="ids")
    return list(dict.fromkeys(int(i) for i in ids))


def _lock(collection: Collection) -> Collection:
    return Collection.objects.select_for_update().get(pk=collection.pk)


def _touch(collection: Collection) -> None:
    Collection.objects.filter(pk=collection.pk).update(updated_at=timezone.now())


# -- the collection itself ------------------------------------------------------------
def collection_create(*, actor, name, description="") -> Collection:
    if not policy.can_create_collections(actor):
        raise NotAllowed("You need the create-collections permission to create collections.")
    name = _text(name, field="name", what="Name", limit=NAME_MAX, required=True)
    description = _text(
        description, field="description", what="Description", limit=DESCRIPTION_MAX,
        required=False,
    )  # fmt: skip
    with transaction.atomic():
        collection = Collection.objects.create(name=name, description=description, created_by=actor)
        audit_record(actor=actor, verb="collection.create", obj=collection, data={"name": name})
    policy.reset_access_cache(actor)
    return collection


def collection_update(*, actor, collection: Collection, name=None, description=None):
    _require(actor, collection, CollectionLevel.MANAGE, "rename or describe it")
    changes = {}
    if name is not None:
        changes["name"] = _text(name, field="name", what="Name", limit=NAME_MAX, required=True)
    if description is not None:
        changes["description"] = _text(
            description, field="description", what="Description", limit=DESCRIPTION_MAX,
            required=False,
        )  # fmt: skip
    changed = {k: v for k, v in changes.items() if getattr(collection, k) != v}
    if not changed:
        return collection
    with transaction.atomic():
        before = {k: getattr(collection, k) for k in changed}
        for key, value in changed.items():
            setattr(collection, key, value)
        collection.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=actor,
            verb="collection.update",
            obj=collection,
            data={"before": before, "after": changed},
        )
    return collection


def collection_delete(*, actor, collection: Collection) -> int:
    """Delete the collection, its invites and links; its assets stay where they are."""
    _require(actor, collection, CollectionLevel.MANAGE, "delete it")
    with transaction.atomic():
        count = collection.items.count()
        audit_record(
            actor=actor,
            verb="collection.delete",
            obj=collection,
            data={"name": collection.name, "assets": count},
        )
        collection.delete()
    policy.reset_access_cache(actor)
    return count


# -- its assets -----------------------------------------------------------------------
def collection_add(*, actor, collection: Collection, ids) -> dict:
    """Add assets at the end, in the order given. Each needs at least view on its folder;
    invisible and missing ids fail alike. Returns {added, already, failed}."""
    _require(actor, collection, CollectionLevel.COLLABORATE, "add assets")
    ids = clean_ids(ids)
    found = set(
        policy.visible_assets(actor, Asset.objects.filter(pk__in=ids)).values_list("pk", flat=True)
    )
    failed = {str(i): "Not found." for i in ids if i not in found}
    if failed:
        # Seen only through a shared collection: visible, but not the user's to pass on.
        unseen = Asset.objects.filter(pk__in=[int(i) for i in failed])
        for pk in policy.visible_assets(actor, unseen, minimum=Level.COLLECTION).values_list(
            "pk", flat=True
        ):
            failed[str(pk)] = (
                "You see this asset only through a shared collection, so you cannot add it "
                "to another one."
            )
    with transaction.atomic():
        _lock(collection)
        present = set(
            CollectionItem.objects.filter(collection=collection, asset_id__in=found).values_list(
                "asset_id", flat=True
            )
        )
        new = [i for i in ids if i in found and i not in present]
        last = (
            CollectionItem.objects.filter(collection=collection)
            .order_by("-position")
            .values_list("position", flat=True)
            .first()
        )
        start = 0 if last is None else last + 1
        CollectionItem.objects.bulk_create(
            [
                CollectionItem(
                    collection=collection, asset_id=pk, position=start + n, added_by=actor
                )
                for n, pk in enumerate(new)
            ]
        )
        if new:
            _touch(collection)
            audit_record(actor=actor, verb="collection.add", obj=collection, data={"assets": new})
    already = [i for i in ids if i in present]
    return {"added": new, "already": already, "failed": failed}


def collection_remove(*, actor, collection: Collection, ids) -> list[int]:
    """Take assets out of the collection (never deletes them). Returns the removed ids."""
    _require(actor, collection, CollectionLevel.COLLABORATE, "remove assets")
    ids = clean_ids(ids)
    with transaction.atomic():
        items = CollectionItem.objects.filter(collection=collection, asset_id__in=ids)
        removed = list(items.values_list("asset_id", flat=True))
        items.delete()
        if removed:
            _touch(collection)
            audit_record(
                actor=actor, verb="collection.remove", obj=collection, data={"assets": removed}
            )
    return removed


def collection_reorder(*, actor, collection: Collection, ids, before=None) -> list[int]:
    """Move `ids` (in that order) to just before the asset `before`, or to the end.
    Ids not in the collection are refused. Returns the new order."""
    _require(actor, collection, CollectionLevel.COLLABORATE, "reorder assets")
    ids = clean_ids(ids)
    if before is not None and (isinstance(before, bool) or not policy.is_valid_id(before)):
        raise ValidationFailed("before is an asset id in the collection.", field="before")
    with transaction.atomic():
        _lock(collection)
        order = list(
            CollectionItem.objects.filter(collection=collection)
            .order_by("position", "id")
            .values_list("asset_id", flat=True)
        )
        members = set(order)
        missing = [i for i in ids if i not in members]
        if missing:
            raise ValidationFailed(
                f"Not in this collection: {', '.join(map(str, missing[:10]))}.", field="ids"
            )
        if before is not None and int(before) not in members:
            raise ValidationFailed("before is an asset id in the collection.", field="before")
        moving = set(ids)
        rest = [i for i in order if i not in moving]
        at = rest.index(int(before)) if before is not None and int(before) in rest else len(rest)
        new_order = rest[:at] + ids + rest[at:]
        if new_order != order:
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    UPDATE assets_collectionitem AS item SET position = o.n - 1
                    FROM unnest(%s::bigint[]) WITH ORDINALITY AS o(asset_id, n)
                    WHERE item.collection_id = %s AND item.asset_id = o.asset_id
                    """,
                    [new_order, collection.pk],
                )
            _touch(collection)
            audit_record(
                actor=actor,
                verb="collection.reorder",
                obj=collection,
                data={"moved": ids, "before": before},
            )
    return new_order


def collection_reorder_run(*, actor, collection: Collection, ids) -> list[int]:
    """Drag and drop on one page of the grid: `ids` are a contiguous run of the collection
    (the page) in their new order; the rest of the collection keeps its place."""
    _require(actor, collection, CollectionLevel.COLLABORATE, "reorder assets")
    ids = clean_ids(ids)
    order = list(
        CollectionItem.objects.filter(collection=collection)
        .order_by("position", "id")
        .values_list("asset_id", flat=True)
    )
    run = set(ids)
    last = max((i for i, pk in enumerate(order) if pk in run), default=-1)
    following = next((pk for pk in order[last + 1 :] if pk not in run), None)
    return collection_reorder(actor=actor, collection=collection, ids=ids, before=following)


# -- invites ----------------------------------------------------------------------------
def _principal_name(principal) -> str:
    if _is_group(principal):
        return f"The group “{principal.name}”"
    return principal.get_full_name() or principal.email


def collection_share(*, actor, collection: Collection, principal, level: CollectionLevel):
    """Invite a user or group at `level` (or change their level). You invite at most at
    your own level. New invitees get an email (users may opt out)."""
    from django.contrib.auth.models import Permission

    from accounts.models import CollectionGroupGrant, CollectionUserGrant

    _require_sharing(actor, collection, "invite teammates")
    if level not in CollectionLevel.granted():
        raise ValidationFailed("Choose a level: view, share, collaborate or manage.", field="level")
    own = policy.access_for(actor).collection_level(collection)
    if level > own:
        raise NotAllowed(f"You can invite at most at your own level ({own.label}).")
    is_group = _is_group(principal)
    if not is_group:
        if principal.pk == collection.created_by_id:
            raise ValidationFailed(
                f"{_principal_name(principal)} created this collection and manages it.",
                field="principal",
            )
        if not policy.can_use_library(principal):
            raise ValidationFailed(
                f"{_principal_name(principal)} cannot use the media library.",
                field="principal",
            )
    permission = Permission.objects.get(codename=level.codename, content_type__app_label="assets")
    model, field = (CollectionGroupGrant, "group") if is_group else (CollectionUserGrant, "user")
    with transaction.atomic():
        grant, created = model.objects.select_for_update().get_or_create(
            **{field: principal, "content_object": collection}, defaults={"permission": permission}
        )
        previous = None if created else CollectionLevel.from_codename(grant.permission.codename)
        if previous is not None and previous > own:
            raise NotAllowed(
                f"{_principal_name(principal)} has {previous.label} access, more than yours."
            )
        if previous == level:
            return grant  # nothing changes: no audit row, no email
        if previous is not None:
            grant.permission = permission
            grant.save(update_fields=["permission"])
        audit_record(
            actor=actor,
            verb="collection.share",
            obj=collection,
            data={
                "principal": {"type": field, "id": principal.pk},
                "level": level.label,
                "previous": previous.label if previous else None,
            },
        )
        if created:
            from assets.tasks import notify_collection_shared

            args = (collection.pk, field, principal.pk, actor.pk)
            transaction.on_commit(lambda: notify_collection_shared.delay(*args), robust=True)
    return grant


def collection_unshare(*, actor, collection: Collection, principal) -> bool:
    from accounts.models import CollectionGroupGrant, CollectionUserGrant

    _require_sharing(actor, collection, "remove teammates")
    is_group = _is_group(principal)
    model, field = (CollectionGroupGrant, "group") if is_group else (CollectionUserGrant, "user")
    own = policy.access_for(actor).collection_level(collection)
    with transaction.atomic():
        grant = (
            model.objects.select_for_update()
            .select_related("permission")
            .filter(**{field: principal, "content_object": collection})
            .first()
        )
        if grant is None:
            return False
        if CollectionLevel.from_codename(grant.permission.codename) > own:
            raise NotAllowed(
                f"{_principal_name(principal)} has more access than you; ask a manager."
            )
        grant.delete()
        audit_record(
            actor=actor,
            verb="collection.unshare",
            obj=collection,
            data={"principal": {"type": field, "id": principal.pk}},
        )
    return True


def collection_share_notify(
    *, collection_id: int, principal_type: str, principal_id: int, actor_id: int
) -> int:
    """Email the new invitee(s); users may opt out. Returns the number of emails sent."""
    from django.conf import settings
    from django.core.mail import send_mass_mail
    from django.urls import reverse

    from accounts.models import User
    from assets.services import share_recipients

    collection = Collection.objects.filter(pk=collection_id).first()
    if collection is None:
        return 0
    actor = User.objects.filter(pk=actor_id).first()
    recipients = share_recipients(principal_type, principal_id, actor_id)
    link = settings.DAM_BASE_URL.rstrip("/") + reverse("collection", args=[collection.pk])
    who = (actor.get_full_name() or actor.email) if actor else "An administrator"
    messages = [
        (
            f"“{collection.name}” was shared with you",
            f"Hello {u.get_short_name()},\n\n{who} shared the collection "
            f"“{collection.name}” with you.\n\nOpen it: {link}\n\n"
            "You can turn these emails off in your profile.\n",
            settings.DEFAULT_FROM_EMAIL,
            [u.email],
        )
        for u in recipients
    ]
    return send_mass_mail(messages, fail_silently=False) if messages else 0


# -- published links ----------------------------------------------------------------------
def _clean_expiry(expires_at) -> datetime | None:
    if expires_at is None or expires_at == "":
        return None
    if isinstance(expires_at, str):
        from django.utils.dateparse import parse_date, parse_datetime

        text = expires_at.strip()
        try:
            if len(text) == 10:  # a date alone: to the end of that day
                day = parse_date(text)
                parsed = datetime.combine(day, time(23, 59, 59)) if day else None
            else:
                parsed = parse_datetime(text)
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValidationFailed(
                "Enter the expiry as a date or date and time.", field="expires_at"
            )
        expires_at = parsed
    if isinstance(expires_at, date) and not isinstance(expires_at, datetime):
        expires_at = datetime.combine(expires_at, time(23, 59, 59))  # the end of that day
    if not isinstance(expires_at, datetime):
        raise ValidationFailed("Enter the expiry as a date or date and time.", field="expires_at")
    if timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at, timezone.get_current_timezone())
    if expires_at <= timezone.now():
        raise ValidationFailed("The expiry must be in the future.", field="expires_at")
    if expires_at.year > 9000:
        raise ValidationFailed("Choose an expiry before the year 9000.", field="expires_at")
    return expires_at


def collection_publish(
    *, actor, collection: Collection, expires_at=None, allow_originals: bool = False
) -> CollectionLink:
    """The collection's public link: made once, then its expiry and options change in
    place (links already sent keep working). An expired link is replaced by a new one."""
    _require_sharing(actor, collection, "publish it")
    expires_at = _clean_expiry(expires_at)
    if not isinstance(allow_originals, bool):
        raise ValidationFailed("allow_originals is true or false.", field="allow_originals")
    now = timezone.now()
    with transaction.atomic():
        _lock(collection)
        link = CollectionLink.objects.filter(collection=collection, revoked_at__isnull=True).first()
        if link is not None and not link.is_live(now):
            link.revoked_at = now
            link.save(update_fields=["revoked_at"])
            link = None
        created = link is None
        if created:
            link = CollectionLink.objects.create(
                collection=collection,
                token=secrets.token_urlsafe(32),
                expires_at=expires_at,
                allow_originals=allow_originals,
                created_by=actor,
            )
        else:
            link.expires_at = expires_at
            link.allow_originals = allow_originals
            link.save(update_fields=["expires_at", "allow_originals"])
        audit_record(
            actor=actor,
            verb="collection.publish",
            obj=collection,
            data={
                "link": link.pk,
                "new": created,
                "expires_at": expires_at.isoformat() if expires_at else None,
                "allow_originals": allow_originals,
            },
        )
    return link


def collection_unpublish(*, actor, collection: Collection) -> bool:
    """Revoke the public link: it answers 404 from now on."""
    _require_sharing(actor, collection, "revoke its public link")
    with transaction.atomic():
        revoked = CollectionLink.objects.filter(
            collection=collection, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
        if revoked:
            audit_record(actor=actor, verb="collection.unpublish", obj=collection)
    return bool(revoked)
