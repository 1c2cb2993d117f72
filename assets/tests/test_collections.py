"""Collections: the policy (levels, the folder-access exception) and the services.

Every permission is tested in pairs: without the level or permission the action is refused
(or the object is invisible), with it the action works.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.http import Http404
from django.utils import timezone

from accounts import policy
from accounts.models import Role, UserStatus
from accounts.policy import CollectionLevel, Level, PermissionDeniedForLevel
from assets import collection_selectors as selectors
from assets import collection_services as services
from assets import services as asset_services
from assets.models import Asset, Collection, CollectionItem, CollectionLink
from dam.errors import NotAllowed, ValidationFailed
from dam.testing import AdminFactory, GroupFactory, UserFactory, grant, make_asset, make_folder

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """/Brand (a curator may view it), /Secret (nobody but admins); a curator who may
    create and share collections, a plain teammate, and a collection of two Brand assets
    and one Secret asset (added by an admin)."""
    admin = AdminFactory()
    brand = make_folder("/Brand", actor=admin)
    secret = make_folder("/Secret", actor=admin)
    curator = UserFactory(can_create_collections=True, can_share_collections=True)
    grant(curator, brand, "view")
    teammate = UserFactory()
    a1 = make_asset(brand, actor=admin, name="one.jpg")
    a2 = make_asset(brand, actor=admin, name="two.jpg")
    hidden = make_asset(secret, actor=admin, name="hidden.jpg")
    collection = services.collection_create(actor=curator, name="Spring picks")
    services.collection_add(actor=curator, collection=collection, ids=[a1.pk, a2.pk])
    services.collection_add(actor=admin, collection=collection, ids=[hidden.pk])
    return {
        "admin": admin,
        "brand": brand,
        "secret": secret,
        "curator": curator,
        "teammate": teammate,
        "a1": a1,
        "a2": a2,
        "hidden": hidden,
        "collection": collection,
    }


def fresh(user):
    """The same user with no cached access (as on the next request)."""
    policy.reset_access_cache(user)
    return user


def invite(world, principal, level: str, actor=None):
    return services.collection_share(
        actor=actor or world["curator"],
        collection=world["collection"],
        principal=principal,
        level=CollectionLevel.from_label(level),
    )


# -- levels ---------------------------------------------------------------------------
def test_collection_level_codenames_match_the_model_permissions():
    codenames = {codename for codename, _ in Collection._meta.permissions}
    assert codenames == {level.codename for level in CollectionLevel.granted()}
    for level in CollectionLevel.granted():
        assert CollectionLevel.from_label(level.label) is level
        assert CollectionLevel.from_codename(level.codename) is level
    with pytest.raises(KeyError):
        CollectionLevel.from_label("none")


def test_the_creator_manages_and_admins_manage_everything(world):
    access = policy.access_for(fresh(world["curator"]))
    assert access.collection_level(world["collection"]) == CollectionLevel.MANAGE
    other_admin = AdminFactory(role=Role.MEDIA_LIBRARY_ADMIN)
    assert policy.access_for(other_admin).collection_level(world["collection"]) == (
        CollectionLevel.MANAGE
    )


def test_without_an_invite_the_collection_does_not_exist(world):
    teammate = world["teammate"]
    assert not policy.visible_collections(teammate).exists()
    with pytest.raises(Http404):
        policy.get_collection_or_404(teammate, world["collection"].pk)


def test_an_invite_shows_the_collection_at_its_level(world):
    teammate = world["teammate"]
    invite(world, teammate, "view")
    fresh(teammate)
    assert list(policy.visible_collections(teammate)) == [world["collection"]]
    assert policy.get_collection_or_404(teammate, world["collection"].pk)
    with pytest.raises(PermissionDeniedForLevel) as info:
        policy.get_collection_or_404(
            teammate, world["collection"].pk, minimum=CollectionLevel.COLLABORATE
        )
    assert "collaborate access to the collection" in str(info.value)


def test_a_group_invite_counts_for_its_members_and_the_highest_level_wins(world):
    teammate = world["teammate"]
    group = GroupFactory()
    teammate.groups.add(group)
    invite(world, group, "collaborate")
    invite(world, teammate, "view")
    access = policy.access_for(fresh(teammate))
    assert access.collection_level(world["collection"]) == CollectionLevel.COLLABORATE


def test_an_inactive_user_sees_no_collection(world):
    teammate = world["teammate"]
    invite(world, teammate, "manage")
    teammate.status = UserStatus.INACTIVE
    teammate.save()
    assert not policy.visible_collections(fresh(teammate)).exists()


def test_reports_and_billing_never_see_collections(world):
    reports = UserFactory(role=Role.REPORTS)
    assert not policy.visible_collections(reports).exists()


# -- the folder-access exception ------------------------------------------------------
def test_collection_access_shows_assets_without_folder_access(world):
    teammate = world["teammate"]
    hidden = world["hidden"]
    assert not policy.visible_assets(teammate, minimum=Level.COLLECTION).exists()
    with pytest.raises(Http404):
        policy.get_asset_or_404(teammate, hidden.pk, minimum=Level.COLLECTION)

    invite(world, teammate, "view")
    fresh(teammate)
    visible = set(policy.visible_assets(teammate, minimum=Level.COLLECTION))
    assert visible == {world["a1"], world["a2"], hidden}
    assert policy.get_asset_or_404(teammate, hidden.pk, minimum=Level.COLLECTION) == hidden
    assert policy.access_for(teammate).asset_level(hidden) == Level.COLLECTION


def test_collection_access_is_view_and_download_and_nothing_more(world):
    teammate = world["teammate"]
    hidden = world["hidden"]
    invite(world, teammate, "manage", actor=world["admin"])
    fresh(teammate)
    # Folder lists (the library) do not grow: only collection-aware routes show them.
    assert not policy.visible_assets(teammate).exists()
    with pytest.raises(PermissionDeniedForLevel) as info:
        policy.get_asset_or_404(teammate, hidden.pk)  # VIEW: comments, versions...
    assert "through a shared collection" in str(info.value)
    for attempt in (
        lambda: asset_services.asset_update(actor=teammate, asset=hidden, display_name="x"),
        lambda: asset_services.asset_delete(actor=teammate, asset=hidden),
        lambda: asset_services.asset_move(actor=teammate, asset=hidden, folder=world["brand"]),
        lambda: asset_services.comment_create(actor=teammate, asset=hidden, body="hi"),
    ):
        with pytest.raises((NotAllowed, PermissionDeniedForLevel)):
            attempt()
    hidden.refresh_from_db()
    assert hidden.display_name != "x" and hidden.deleted_at is None


def test_bulk_edits_refuse_collection_only_assets(world):
    teammate = world["teammate"]
    invite(world, teammate, "view")
    result = asset_services.assets_bulk(
        actor=fresh(teammate), ids=[world["hidden"].pk], action="add_tags", tags=["x"]
    )
    assert result["done"] == []
    assert "through a shared collection" in result["failed"][str(world["hidden"].pk)]


def test_removing_the_invite_takes_the_assets_away(world):
    teammate = world["teammate"]
    invite(world, teammate, "view")
    services.collection_unshare(
        actor=world["curator"], collection=world["collection"], principal=teammate
    )
    with pytest.raises(Http404):
        policy.get_asset_or_404(fresh(teammate), world["hidden"].pk, minimum=Level.COLLECTION)


def test_an_asset_leaves_collection_access_when_removed_from_the_collection(world):
    teammate = world["teammate"]
    invite(world, teammate, "view")
    services.collection_remove(
        actor=world["admin"], collection=world["collection"], ids=[world["hidden"].pk]
    )
    with pytest.raises(Http404):
        policy.get_asset_or_404(fresh(teammate), world["hidden"].pk, minimum=Level.COLLECTION)


def test_trashed_assets_leave_the_collection_and_come_back_on_restore(world):
    admin = world["admin"]
    asset_services.asset_delete(actor=admin, asset=world["a1"])
    assets = list(selectors.collection_assets(world["collection"]))
    assert world["a1"] not in assets and len(assets) == 2
    asset_services.asset_restore(actor=admin, asset=Asset.all_objects.get(pk=world["a1"].pk))
    assert world["a1"] in list(selectors.collection_assets(world["collection"]))


# -- create, rename, delete ----------------------------------------------------------------
def test_creating_needs_the_create_collections_permission():
    plain = UserFactory()
    with pytest.raises(NotAllowed) as info:
        services.collection_create(actor=plain, name="Mine")
    assert "create-collections permission" in info.value.message
    allowed = UserFactory(can_create_collections=True)
    collection = services.collection_create(actor=allowed, name="  Mine  ", description="d")
    assert (collection.name, collection.description) == ("Mine", "d")
    assert services.collection_create(actor=AdminFactory(role=Role.ADMIN), name="Admin's")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Enter a name."),
        ("   ", "Enter a name."),
        ("x" * 201, "at most 200"),
        ("bad\x00name", "NUL"),
        (42, "is text"),
    ],
)
def test_bad_names_are_refused_clearly(name, message):
    user = UserFactory(can_create_collections=True)
    with pytest.raises(ValidationFailed) as info:
        services.collection_create(actor=user, name=name)
    assert message in info.value.message and info.value.field == "name"
    assert not Collection.objects.exists()


def test_rename_and_describe_need_manage(world):
    teammate = world["teammate"]
    invite(world, teammate, "collaborate")
    with pytest.raises(NotAllowed):
        services.collection_update(
            actor=fresh(teammate), collection=world["collection"], name="Mine now"
        )
    services.collection_update(
        actor=world["curator"], collection=world["collection"], name="Summer", description="New"
    )
    world["collection"].refresh_from_db()
    assert (world["collection"].name, world["collection"].description) == ("Summer", "New")


def test_deleting_a_collection_never_deletes_assets(world):
    teammate = world["teammate"]
    invite(world, teammate, "collaborate")
    with pytest.raises(NotAllowed):
        services.collection_delete(actor=fresh(teammate), collection=world["collection"])
    count = services.collection_delete(actor=world["curator"], collection=world["collection"])
    assert count == 3
    assert not Collection.objects.exists() and not CollectionItem.objects.exists()
    assert Asset.objects.count() == 3


def test_a_deleted_users_collections_stay(world):
    from accounts import services as account_services

    curator = world["curator"]
    invite(world, world["teammate"], "view")
    account_services.user_delete(actor=world["admin"], user=curator)
    collection = Collection.objects.get()
    assert collection.created_by == curator
    curator.refresh_from_db()
    assert curator.status == UserStatus.INACTIVE
    assert list(policy.visible_collections(fresh(world["teammate"]))) == [collection]


# -- assets in a collection ----------------------------------------------------------------
def test_adding_needs_collaborate_and_view_on_each_asset(world):
    teammate = world["teammate"]
    brand_asset = make_asset(world["brand"], actor=world["admin"], name="three.jpg")
    invite(world, teammate, "share")
    with pytest.raises(NotAllowed) as info:
        services.collection_add(
            actor=fresh(teammate), collection=world["collection"], ids=[brand_asset.pk]
        )
    assert "collaborate access" in info.value.message

    invite(world, teammate, "collaborate")
    result = services.collection_add(
        actor=fresh(teammate), collection=world["collection"], ids=[brand_asset.pk]
    )
    assert result["added"] == [] and "Not found." in result["failed"][str(brand_asset.pk)]

    grant(teammate, world["brand"], "view")
    result = services.collection_add(
        actor=fresh(teammate),
        collection=world["collection"],
        ids=[brand_asset.pk, world["a1"].pk],
    )
    assert result == {"added": [brand_asset.pk], "already": [world["a1"].pk], "failed": {}}


def test_assets_seen_only_through_a_collection_cannot_be_passed_on(world):
    teammate = UserFactory(can_create_collections=True)
    invite(world, teammate, "view")
    mine = services.collection_create(actor=fresh(teammate), name="Mine")
    result = services.collection_add(actor=teammate, collection=mine, ids=[world["hidden"].pk])
    assert result["added"] == []
    assert "only through a shared collection" in result["failed"][str(world["hidden"].pk)]


def test_new_assets_go_to_the_end_in_the_order_given(world):
    admin = world["admin"]
    extra = [make_asset(world["brand"], actor=admin, name=f"x{i}.jpg") for i in range(3)]
    services.collection_add(
        actor=admin, collection=world["collection"], ids=[extra[2].pk, extra[0].pk, extra[1].pk]
    )
    order = [a.pk for a in selectors.collection_assets(world["collection"])]
    first = [world["a1"].pk, world["a2"].pk, world["hidden"].pk]
    assert order == [*first, extra[2].pk, extra[0].pk, extra[1].pk]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([], "Choose at least one asset."),
        ("1,2", "Choose at least one asset."),
        (["a"], "positive integers"),
        ([0], "positive integers"),
        ([2**70], "positive integers"),
        ([True], "positive integers"),
        (list(range(1, 502)), "At most 500"),
    ],
)
def test_bad_id_lists_are_refused(world, ids, message):
    with pytest.raises(ValidationFailed) as info:
        services.collection_add(actor=world["admin"], collection=world["collection"], ids=ids)
    assert message in info.value.message


def test_reorder_moves_assets_before_another_or_to_the_end(world):
    c, admin = world["collection"], world["admin"]
    a1, a2, hidden = world["a1"].pk, world["a2"].pk, world["hidden"].pk
    assert services.collection_reorder(actor=admin, collection=c, ids=[hidden], before=a1) == [
        hidden,
        a1,
        a2,
    ]
    assert services.collection_reorder(actor=admin, collection=c, ids=[hidden]) == [a1, a2, hidden]
    assert [a.pk for a in selectors.collection_assets(c)] == [a1, a2, hidden]
    with pytest.raises(ValidationFailed) as info:
        services.collection_reorder(actor=admin, collection=c, ids=[999999])
    assert "Not in this collection" in info.value.message
    with pytest.raises(ValidationFailed):
        services.collection_reorder(actor=admin, collection=c, ids=[a1], before=999999)


def test_remove_needs_collaborate(world):
    teammate = world["teammate"]
    invite(world, teammate, "share")
    with pytest.raises(NotAllowed):
        services.collection_remove(
            actor=fresh(teammate), collection=world["collection"], ids=[world["a1"].pk]
        )
    invite(world, teammate, "collaborate")
    removed = services.collection_remove(
        actor=fresh(teammate), collection=world["collection"], ids=[world["a1"].pk, 999]
    )
    assert removed == [world["a1"].pk]
    assert Asset.objects.filter(pk=world["a1"].pk).exists()


# -- invites -------------------------------------------------------------------------------
def test_inviting_needs_share_level_and_the_share_permission(world):
    teammate, other = world["teammate"], UserFactory()
    invite(world, teammate, "manage")  # manage, but no share-collections permission
    with pytest.raises(NotAllowed) as info:
        invite(world, other, "view", actor=fresh(teammate))
    assert "share-collections permission" in info.value.message
    with pytest.raises(NotAllowed):
        services.collection_publish(actor=teammate, collection=world["collection"])

    sharer = UserFactory(can_share_collections=True)
    invite(world, sharer, "view")
    with pytest.raises(NotAllowed) as info:  # the permission, but only view level
        invite(world, other, "view", actor=fresh(sharer))
    assert "share access" in info.value.message

    invite(world, sharer, "share")
    invite(world, other, "view", actor=fresh(sharer))
    assert policy.access_for(fresh(other)).collection_level(world["collection"]) == (
        CollectionLevel.VIEW
    )


def test_nobody_invites_above_their_own_level(world):
    sharer = UserFactory(can_share_collections=True)
    invite(world, sharer, "share")
    with pytest.raises(NotAllowed) as info:
        invite(world, world["teammate"], "manage", actor=fresh(sharer))
    assert "at most at your own level (share)" in info.value.message
    invite(world, world["teammate"], "collaborate")
    with pytest.raises(NotAllowed):  # nor lowers, nor removes, someone above them
        services.collection_unshare(
            actor=sharer, collection=world["collection"], principal=world["teammate"]
        )


def test_invites_refuse_the_creator_and_users_outside_the_library(world):
    with pytest.raises(ValidationFailed) as info:
        invite(world, world["curator"], "view", actor=world["admin"])
    assert "created this collection" in info.value.message
    with pytest.raises(ValidationFailed) as info:
        invite(world, UserFactory(role=Role.BILLING), "view")
    assert "cannot use the media library" in info.value.message


def test_a_new_invite_emails_the_invitee_once(world, django_capture_on_commit_callbacks):
    teammate = world["teammate"]
    with django_capture_on_commit_callbacks(execute=True):
        invite(world, teammate, "view")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [teammate.email]
    assert "Spring picks" in message.subject and "/collections/" in message.body
    with django_capture_on_commit_callbacks(execute=True):
        invite(world, teammate, "collaborate")  # a level change is not a new invite
    assert len(mail.outbox) == 1


def test_shared_with_me_lists_invites_not_my_own(world):
    teammate = UserFactory(can_create_collections=True)
    own = services.collection_create(actor=teammate, name="Own")
    invite(world, teammate, "view")
    fresh(teammate)
    assert list(selectors.collections_visible(teammate, scope="shared")) == [world["collection"]]
    assert list(selectors.collections_visible(teammate, scope="mine")) == [own]
    assert set(selectors.collections_visible(teammate)) == {own, world["collection"]}


# -- publishing ------------------------------------------------------------------------------
def test_publish_makes_one_unguessable_link_and_updates_it_in_place(world):
    curator = world["curator"]
    link = services.collection_publish(actor=curator, collection=world["collection"])
    assert len(link.token) >= 40 and link.expires_at is None
    later = timezone.now() + timedelta(days=7)
    again = services.collection_publish(
        actor=curator, collection=world["collection"], expires_at=later, allow_originals=True
    )
    assert again.pk == link.pk and again.token == link.token
    assert again.expires_at == later and again.allow_originals
    assert selectors.link_by_token(link.token) == again


def test_revoked_and_expired_links_answer_nothing(world):
    curator = world["curator"]
    link = services.collection_publish(actor=curator, collection=world["collection"])
    assert services.collection_unpublish(actor=curator, collection=world["collection"])
    assert selectors.link_by_token(link.token) is None
    assert not services.collection_unpublish(actor=curator, collection=world["collection"])

    fresh_link = services.collection_publish(actor=curator, collection=world["collection"])
    assert fresh_link.token != link.token  # a revoked link never comes back
    CollectionLink.objects.filter(pk=fresh_link.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert selectors.link_by_token(fresh_link.token) is None
    renewed = services.collection_publish(actor=curator, collection=world["collection"])
    assert renewed.token not in (link.token, fresh_link.token)
    assert selectors.link_by_token("x" * 43) is None
    assert selectors.link_by_token("short") is None


@pytest.mark.parametrize(
    "expires_at",
    ["yesterday", "2001-01-01", "2001-01-01T00:00:00Z", 12, "9999-01-01"],
)
def test_bad_expiry_is_refused(world, expires_at):
    with pytest.raises(ValidationFailed) as info:
        services.collection_publish(
            actor=world["curator"], collection=world["collection"], expires_at=expires_at
        )
    assert info.value.field == "expires_at"
    assert not CollectionLink.objects.exists()


def test_the_public_page_shows_only_public_approved_processed_assets(world):
    a1, a2, hidden = world["a1"], world["a2"], world["hidden"]
    Asset.objects.filter(pk=a1.pk).update(moderation_status="pending")
    Asset.objects.filter(pk=a2.pk).update(access_mode="restricted")
    Asset.objects.filter(pk=hidden.pk).update(processing_status="ready")
    shown = list(selectors.public_assets(world["collection"]))
    assert shown == [hidden]
