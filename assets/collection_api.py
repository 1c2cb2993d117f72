"""Collections in the JSON API (API.md "Collections"): thin, over collection_services."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import Http404
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status
from pydantic import StrictBool, StrictInt

from accounts import policy
from accounts.policy import CollectionLevel
from assets import collection_selectors as selectors
from assets import collection_services as services
from assets.schemas import AssetOut, Principal, asset_out
from assets.selectors import principal_get
from dam.errors import ValidationFailed
from dam.pagination import PageParams, paginate
from dam.schemas import ObjectIn

router = Router(tags=["collections"])


# -- schemas --------------------------------------------------------------------------
class CollectionIn(ObjectIn):
    name: str
    description: str = ""


class CollectionPatch(ObjectIn):
    name: str | None = None
    description: str | None = None


class Person(Schema):
    id: int
    name: str
    email: str
    active: bool


class CollectionOut(Schema):
    id: int
    name: str
    description: str
    created_by: Person
    asset_count: int
    my_level: str
    cover_ids: list[int]
    published: bool
    created_at: datetime
    updated_at: datetime


class CollectionPage(Schema):
    count: int
    next: str | None
    previous: str | None
    results: list[CollectionOut]


class IdsIn(ObjectIn):
    ids: list[StrictInt]


class ReorderIn(ObjectIn):
    ids: list[StrictInt]
    before: StrictInt | None = None


class AddOut(Schema):
    added: list[int]
    already: list[int]
    failed: dict[str, str]


class RemoveOut(Schema):
    removed: list[int]


class OrderOut(Schema):
    ids: list[int]


class AssetPage(Schema):
    count: int
    next: str | None
    previous: str | None
    results: list[AssetOut]


class CollectionShareIn(ObjectIn):
    principal: Principal
    level: Literal["view", "share", "collaborate", "manage"]


class CollectionShareOut(Schema):
    principal: Principal
    name: str
    level: str


class PublishIn(ObjectIn):
    expires_at: str | None = Field(
        None,
        description="ISO 8601 date-time, or a date: the link then works to the end of that "
        "day (UTC). Null: no expiry.",
    )
    allow_originals: StrictBool = False


class PublishOut(Schema):
    url: str
    token: str
    expires_at: datetime | None
    allow_originals: bool
    created_at: datetime


# -- serializers ----------------------------------------------------------------------
def person_out(user) -> dict:
    from accounts.models import UserStatus

    return {
        "id": user.pk,
        "name": user.get_full_name() or user.email,
        "email": user.email,
        "active": user.is_active and user.status != UserStatus.INACTIVE,
    }


def collection_out(collection, user) -> dict:
    if not hasattr(collection, "my_level"):
        selectors.attach_levels(user, [collection])
    if not hasattr(collection, "covers"):
        selectors.attach_covers([collection])
    if not hasattr(collection, "asset_count"):
        collection.asset_count = selectors.collection_assets(collection).count()
    published = getattr(collection, "published", None)
    if published is None:
        published = selectors.live_link(collection) is not None
    return {
        "id": collection.pk,
        "name": collection.name,
        "description": collection.description,
        "created_by": person_out(collection.created_by),
        "asset_count": collection.asset_count,
        "my_level": collection.my_level.label,
        "cover_ids": [a.pk for a in collection.covers],
        "published": published,
        "created_at": collection.created_at,
        "updated_at": collection.updated_at,
    }


def link_out(request, link) -> dict:
    path = reverse("public_collection", args=[link.token])
    return {
        "url": request.build_absolute_uri(path),
        "token": link.token,
        "expires_at": link.expires_at,
        "allow_originals": link.allow_originals,
        "created_at": link.created_at,
    }


def _collection(request, collection_id, minimum=CollectionLevel.VIEW):
    return policy.get_collection_or_404(request.auth, collection_id, minimum)


def _fresh(request, collection_id) -> dict:
    collection = selectors.collections_visible(request.auth).filter(pk=collection_id).first()
    if collection is None:
        raise Http404("No such collection.")
    return collection_out(collection, request.auth)


# -- endpoints ------------------------------------------------------------------------
@router.get("/collections", response=CollectionPage, summary="Collections you can see")
def collections_list(
    request,
    scope: Literal["all", "mine", "shared"] = "all",
    q: str = "",
    paging: Query[PageParams] = None,
):
    """`scope=mine`: created by you; `scope=shared`: shared with you or your groups."""
    user = request.auth
    if "\x00" in q or len(q) > 200:
        raise ValidationFailed("Search text has at most 200 characters.", field="q")
    rows = selectors.collections_visible(user, scope=scope, query=q.strip())
    page = paginate(request, rows, lambda c: c, paging or PageParams())
    collections = page["results"]
    selectors.attach_covers(collections)
    selectors.attach_levels(user, collections)
    selectors.attach_published(collections)
    page["results"] = [collection_out(c, user) for c in collections]
    return page


@router.post("/collections", response={201: CollectionOut}, summary="Create a collection")
def collections_create(request, payload: CollectionIn):
    collection = services.collection_create(
        actor=request.auth, name=payload.name, description=payload.description
    )
    return Status(201, _fresh(request, collection.pk))


@router.get("/collections/{collection_id}", response=CollectionOut, summary="One collection")
def collections_get(request, collection_id: int):
    _collection(request, collection_id)
    return _fresh(request, collection_id)


@router.patch("/collections/{collection_id}", response=CollectionOut, summary="Rename, describe")
def collections_patch(request, collection_id: int, payload: CollectionPatch):
    collection = _collection(request, collection_id)
    services.collection_update(
        actor=request.auth,
        collection=collection,
        name=payload.name,
        description=payload.description,
    )
    return _fresh(request, collection_id)


@router.delete("/collections/{collection_id}", response={204: None}, summary="Delete (assets stay)")
def collections_delete(request, collection_id: int):
    collection = _collection(request, collection_id)
    services.collection_delete(actor=request.auth, collection=collection)
    return Status(204, None)


@router.get("/collections/{collection_id}/assets", response=AssetPage, summary="Its assets")
def collections_assets(request, collection_id: int, paging: Query[PageParams] = None):
    collection = _collection(request, collection_id)
    rows = selectors.collection_assets(collection)
    return paginate(request, rows, lambda a: asset_out(a, request), paging or PageParams())


@router.post("/collections/{collection_id}/assets", response=AddOut, summary="Add assets")
def collections_add(request, collection_id: int, payload: IdsIn):
    collection = _collection(request, collection_id)
    return services.collection_add(actor=request.auth, collection=collection, ids=payload.ids)


@router.delete("/collections/{collection_id}/assets", response=RemoveOut, summary="Remove")
def collections_remove(request, collection_id: int, payload: IdsIn):
    collection = _collection(request, collection_id)
    removed = services.collection_remove(actor=request.auth, collection=collection, ids=payload.ids)
    return {"removed": removed}


@router.put(
    "/collections/{collection_id}/assets/order", response=OrderOut, summary="Reorder assets"
)
def collections_reorder(request, collection_id: int, payload: ReorderIn):
    """Moves `ids` (in that order) to just before `before`, or to the end when null."""
    collection = _collection(request, collection_id)
    order = services.collection_reorder(
        actor=request.auth, collection=collection, ids=payload.ids, before=payload.before
    )
    return {"ids": order}


def _shares_out(collection) -> list[dict]:
    return [
        {
            "principal": {"type": row.principal_type, "id": row.principal.pk},
            "name": row.principal.name
            if row.principal_type == "group"
            else (row.principal.get_full_name() or row.principal.email),
            "level": row.level.label,
        }
        for row in selectors.collection_shares(collection)
    ]


def _share_collection(request, collection_id):
    """Invites are seen and changed by those who may share (level and permission)."""
    return policy.get_collection_to_share_or_404(request.auth, collection_id)


@router.get(
    "/collections/{collection_id}/shares", response=list[CollectionShareOut], summary="Invites"
)
def collections_shares(request, collection_id: int):
    return _shares_out(_share_collection(request, collection_id))


@router.put(
    "/collections/{collection_id}/shares",
    response=list[CollectionShareOut],
    summary="Invite or change a level",
)
def collections_share(request, collection_id: int, payload: CollectionShareIn):
    collection = _share_collection(request, collection_id)
    principal = principal_get(
        principal_type=payload.principal.type, principal_id=payload.principal.id
    )
    if principal is None:
        raise ValidationFailed("No such user or group.", field="principal")
    services.collection_share(
        actor=request.auth,
        collection=collection,
        principal=principal,
        level=CollectionLevel.from_label(payload.level),
    )
    return _shares_out(collection)


@router.delete(
    "/collections/{collection_id}/shares/{principal_type}/{principal_id}",
    response={204: None},
    summary="Remove an invite",
)
def collections_unshare(request, collection_id: int, principal_type: str, principal_id: int):
    collection = _share_collection(request, collection_id)
    principal = principal_get(
        principal_type=principal_type, principal_id=principal_id, include_inactive=True
    )
    if principal is None or not services.collection_unshare(
        actor=request.auth, collection=collection, principal=principal
    ):
        raise Http404("No such invite.")
    return Status(204, None)


@router.get("/collections/{collection_id}/publish", response=PublishOut, summary="The public link")
def collections_link(request, collection_id: int):
    collection = _share_collection(request, collection_id)
    link = selectors.live_link(collection)
    if link is None:
        raise Http404("This collection is not published.")
    return link_out(request, link)


@router.post(
    "/collections/{collection_id}/publish", response=PublishOut, summary="Publish (or update)"
)
def collections_publish(request, collection_id: int, payload: PublishIn = None):
    collection = _collection(request, collection_id)
    payload = payload or PublishIn()
    link = services.collection_publish(
        actor=request.auth,
        collection=collection,
        expires_at=payload.expires_at,
        allow_originals=payload.allow_originals,
    )
    return link_out(request, link)


@router.delete(
    "/collections/{collection_id}/publish", response={204: None}, summary="Revoke the link"
)
def collections_unpublish(request, collection_id: int):
    collection = _collection(request, collection_id)
    if not services.collection_unpublish(actor=request.auth, collection=collection):
        raise Http404("This collection is not published.")
    return Status(204, None)
