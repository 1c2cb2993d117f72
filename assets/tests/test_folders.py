"""Folder rename, move, delete and sharing: services and API, in permission pairs."""

import pytest
from django.core import mail

from accounts.policy import Level, access_for, visible_assets
from assets import selectors, services
from assets.models import Asset, Folder
from dam.models import AuditEvent
from dam.testing import AdminFactory, GroupFactory, UserFactory, grant, make_asset, make_folder

API = "/api/v1"
pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return AdminFactory()


@pytest.fixture
def tree(admin):
    """/Marketing/Spring/Week1 and /Brand, with one asset in Week1."""
    week1 = make_folder("/Marketing/Spring/Week1", actor=admin)
    brand = make_folder("/Brand", actor=admin)
    spring = week1.parent
    marketing = spring.parent
    asset = make_asset(week1, actor=admin)
    return {
        "marketing": marketing,
        "spring": spring,
        "week1": week1,
        "brand": brand,
        "asset": asset,
    }


def reload(user):
    """A new user object: the policy caches grants per user object (one request)."""
    return type(user).objects.get(pk=user.pk)


def fresh(folder):
    return Folder.all_objects.get(pk=folder.pk)


# -- rename ---------------------------------------------------------------------------
def test_rename_rewrites_the_subtree_paths(admin, tree):
    services.folder_rename(actor=admin, folder=tree["marketing"], name="Campaigns")
    assert fresh(tree["marketing"]).path == "/Campaigns"
    assert fresh(tree["week1"]).path == "/Campaigns/Spring/Week1"
    assert fresh(tree["brand"]).path == "/Brand"
    assert AuditEvent.objects.filter(verb="folder.rename").exists()


def test_rename_needs_edit_and_a_free_name(admin, tree):
    user = UserFactory()
    grant(user, tree["marketing"], "contribute")
    with pytest.raises(services.NotAllowed):
        services.folder_rename(actor=user, folder=tree["spring"], name="Autumn")
    grant(user, tree["marketing"], "edit")
    user = reload(user)
    services.folder_rename(actor=user, folder=tree["spring"], name="Autumn")
    make_folder("/Marketing/Summer", actor=admin)
    with pytest.raises(services.Conflict):
        services.folder_rename(actor=user, folder=fresh(tree["spring"]), name="summer")


# -- move -----------------------------------------------------------------------------
def test_move_rewrites_folder_and_asset_arrays(admin, tree):
    services.folder_move(actor=admin, folder=tree["spring"], parent=tree["brand"])
    spring, week1 = fresh(tree["spring"]), fresh(tree["week1"])
    brand = tree["brand"]
    assert spring.path == "/Brand/Spring" and week1.path == "/Brand/Spring/Week1"
    assert spring.ancestor_ids == [brand.pk, spring.pk]
    assert week1.ancestor_ids == [brand.pk, spring.pk, week1.pk]
    assert (spring.depth, week1.depth) == (1, 2)
    asset = Asset.objects.get(pk=tree["asset"].pk)
    assert asset.ancestors == week1.ancestor_ids


def test_move_to_top_level_and_back(admin, tree):
    services.folder_move(actor=admin, folder=tree["week1"], parent=None)
    week1 = fresh(tree["week1"])
    assert week1.path == "/Week1" and week1.ancestor_ids == [week1.pk] and week1.depth == 0
    assert Asset.objects.get(pk=tree["asset"].pk).ancestors == [week1.pk]
    services.folder_move(actor=admin, folder=week1, parent=tree["spring"])
    assert fresh(week1).path == "/Marketing/Spring/Week1"


def test_move_into_own_subtree_is_refused(admin, tree):
    with pytest.raises(services.ValidationFailed):
        services.folder_move(actor=admin, folder=tree["marketing"], parent=tree["week1"])


def test_move_changes_who_sees_the_assets_without_touching_grants(admin, tree):
    user = UserFactory()
    grant(user, tree["brand"], "view")
    assert not visible_assets(user).exists()
    services.folder_move(actor=admin, folder=tree["spring"], parent=tree["brand"])
    fresh_user = type(user).objects.get(pk=user.pk)
    assert list(visible_assets(fresh_user)) == [Asset.objects.get(pk=tree["asset"].pk)]


def test_move_needs_edit_on_folder_and_contribute_on_target(admin, tree):
    user = UserFactory()
    grant(user, tree["marketing"], "edit")
    with pytest.raises(services.NotAllowed):  # no access to /Brand
        services.folder_move(actor=user, folder=tree["week1"], parent=tree["brand"])
    grant(user, tree["brand"], "contribute")
    user = reload(user)
    services.folder_move(actor=user, folder=tree["week1"], parent=tree["brand"])


# -- delete ---------------------------------------------------------------------------
def test_delete_trashes_subtree_and_assets(admin, tree):
    count = services.folder_delete(actor=admin, folder=tree["spring"])
    assert count == 1
    assert not Folder.objects.filter(pk__in=[tree["spring"].pk, tree["week1"].pk]).exists()
    trashed = Asset.all_objects.get(pk=tree["asset"].pk)
    assert trashed.deleted_at and trashed.deleted_with_id == tree["spring"].pk
    assert not Asset.objects.filter(pk=trashed.pk).exists()
    # The name is free again for a new folder.
    assert make_folder("/Marketing/Spring", actor=admin).pk != tree["spring"].pk


def test_delete_needs_manage(admin, tree):
    user = UserFactory()
    grant(user, tree["marketing"], "edit")
    with pytest.raises(services.NotAllowed):
        services.folder_delete(actor=user, folder=tree["spring"])


# -- sharing --------------------------------------------------------------------------
def test_share_with_group_cascades_and_emails_members(
    admin, tree, django_capture_on_commit_callbacks
):
    group = GroupFactory()
    member = UserFactory()
    member.groups.add(group)
    with django_capture_on_commit_callbacks(execute=True):
        services.folder_share(actor=admin, folder=tree["spring"], principal=group, level=Level.VIEW)
    assert access_for(member).folder_level(tree["week1"]) == Level.VIEW
    assert access_for(member).folder_level(tree["marketing"]) == Level.NONE
    assert [m.to for m in mail.outbox] == [[member.email]]
    assert "Spring" in mail.outbox[0].subject


def test_share_respects_the_opt_out(admin, tree, django_capture_on_commit_callbacks):
    keen, quiet = UserFactory(), UserFactory()
    quiet.notify_on_share = False
    quiet.save()
    with django_capture_on_commit_callbacks(execute=True):
        for user in (keen, quiet):
            services.folder_share(
                actor=admin, folder=tree["spring"], principal=user, level=Level.VIEW
            )
    assert [m.to for m in mail.outbox] == [[keen.email]]


def test_share_can_raise_but_not_lower_an_inherited_level(admin, tree):
    user = UserFactory()
    services.folder_share(actor=admin, folder=tree["marketing"], principal=user, level=Level.EDIT)
    with pytest.raises(services.ValidationFailed) as err:
        services.folder_share(actor=admin, folder=tree["week1"], principal=user, level=Level.VIEW)
    assert "edit access from “/Marketing”" in str(err.value)
    services.folder_share(actor=admin, folder=tree["week1"], principal=user, level=Level.MANAGE)
    assert (
        access_for(type(user).objects.get(pk=user.pk)).folder_level(tree["week1"]) == Level.MANAGE
    )


def test_share_needs_manage(admin, tree):
    user, other = UserFactory(), UserFactory()
    grant(user, tree["marketing"], "edit")
    with pytest.raises(services.NotAllowed):
        services.folder_share(actor=user, folder=tree["spring"], principal=other, level=Level.VIEW)


def test_shares_list_shows_inherited_rows(admin, tree):
    group, user = GroupFactory(name="Designers"), UserFactory()
    services.folder_share(actor=admin, folder=tree["marketing"], principal=group, level=Level.VIEW)
    services.folder_share(actor=admin, folder=tree["spring"], principal=user, level=Level.EDIT)
    rows = selectors.folder_shares(folder=tree["week1"])
    assert {(r.principal_type, r.level, r.folder.pk, r.inherited) for r in rows} == {
        ("group", Level.VIEW, tree["marketing"].pk, True),
        ("user", Level.EDIT, tree["spring"].pk, True),
    }


# -- API ------------------------------------------------------------------------------
def test_api_patch_renames_and_moves(client, admin, tree):
    client.force_login(admin)
    url = f"{API}/folders/{tree['spring'].pk}"
    response = client.patch(url, {"name": "Autumn"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["path"] == "/Marketing/Autumn"
    response = client.patch(url, {"parent": None}, content_type="application/json")
    assert response.json()["path"] == "/Autumn" and response.json()["parent"] is None
    response = client.patch(url, {"parent": tree["week1"].pk}, content_type="application/json")
    assert response.status_code == 422 and "parent" in response.json()["errors"]


def test_api_folder_writes_are_404_without_access_and_403_below_level(client, tree):
    user = UserFactory()
    client.force_login(user)
    url = f"{API}/folders/{tree['spring'].pk}"
    assert client.patch(url, {"name": "X"}, content_type="application/json").status_code == 404
    assert client.delete(url).status_code == 404
    assert client.get(f"{url}/shares").status_code == 404
    grant(user, tree["marketing"], "view")
    response = client.patch(url, {"name": "X"}, content_type="application/json")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert client.delete(url).status_code == 403
    assert client.get(f"{url}/shares").status_code == 403
    grant(user, tree["marketing"], "manage")
    assert client.get(f"{url}/shares").status_code == 200
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


def test_api_share_put_list_and_delete(client, admin, tree):
    group = GroupFactory()
    client.force_login(admin)
    base = f"{API}/folders/{tree['marketing'].pk}/shares"
    body = {"principal": {"type": "group", "id": group.pk}, "level": "contribute"}
    response = client.put(base, body, content_type="application/json")
    assert response.status_code == 200
    assert response.json() == [
        {
            "principal": {"type": "group", "id": group.pk},
            "level": "contribute",
            "inherited_from": None,
            "inherited": False,
        }
    ]
    child = client.get(f"{API}/folders/{tree['spring'].pk}/shares").json()
    assert child == [
        {
            "principal": {"type": "group", "id": group.pk},
            "level": "contribute",
            "inherited_from": tree["marketing"].pk,
            "inherited": True,
        }
    ]
    lower = {"principal": {"type": "group", "id": group.pk}, "level": "view"}
    response = client.put(
        f"{API}/folders/{tree['spring'].pk}/shares", lower, content_type="application/json"
    )
    assert response.status_code == 422 and "level" in response.json()["errors"]
    assert client.delete(f"{base}/group/{group.pk}").status_code == 204
    assert client.delete(f"{base}/group/{group.pk}").status_code == 404
    assert client.get(base).json() == []


@pytest.mark.parametrize(
    "principal",
    [{"type": "user", "id": 10**9}, {"type": "group", "id": 10**9}, {"type": "robot", "id": 1}],
)
def test_api_share_with_unknown_principal_is_422(client, admin, tree, principal):
    client.force_login(admin)
    response = client.put(
        f"{API}/folders/{tree['marketing'].pk}/shares",
        {"principal": principal, "level": "view"},
        content_type="application/json",
    )
    assert response.status_code == 422


def test_api_share_with_inactive_user_is_422(client, admin, tree):
    gone = UserFactory(status="inactive", is_active=False)
    client.force_login(admin)
    response = client.put(
        f"{API}/folders/{tree['marketing'].pk}/shares",
        {"principal": {"type": "user", "id": gone.pk}, "level": "view"},
        content_type="application/json",
    )
    assert response.status_code == 422


# -- move dialog targets --------------------------------------------------------------
def test_move_targets_are_searchable_and_exclude_the_subtree(client, admin, tree):
    from django.urls import reverse

    client.force_login(admin)
    url = reverse("assets:folder_move_targets", args=[tree["spring"].pk])
    html = client.get(url).text
    assert "/Brand" in html and "Top level of the library" in html
    assert "/Marketing/Spring/Week1" not in html  # its own subtree
    assert ">/Marketing<" not in html  # its current parent
    assert "/Brand" not in client.get(url, {"q": "week"}).text


def test_move_targets_need_edit_and_hide_invisible_paths(client, admin, tree):
    from django.urls import reverse

    user = UserFactory()
    client.force_login(user)
    url = reverse("assets:folder_move_targets", args=[tree["week1"].pk])
    assert client.get(url).status_code == 404
    grant(user, tree["spring"], "view")
    assert client.get(url).status_code == 403
    grant(user, tree["spring"], "edit")
    grant(user, tree["brand"], "contribute")
    html = client.get(url).text
    assert "/Brand" in html and "Top level" not in html
    assert "Marketing" not in html  # /Marketing is invisible to this user


# -- review findings ------------------------------------------------------------------
def test_share_email_names_only_what_the_recipient_can_see(
    admin, tree, django_capture_on_commit_callbacks
):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.folder_share(actor=admin, folder=tree["spring"], principal=user, level=Level.VIEW)
    assert "/Spring" in mail.outbox[0].body
    assert "Marketing" not in mail.outbox[0].body


def test_inherited_from_hides_invisible_ancestors(client, admin, tree):
    group = GroupFactory()
    services.folder_share(actor=admin, folder=tree["marketing"], principal=group, level=Level.VIEW)
    manager = UserFactory()
    grant(manager, tree["spring"], "manage")
    client.force_login(manager)
    rows = client.get(f"{API}/folders/{tree['spring'].pk}/shares").json()
    group_row = next(r for r in rows if r["principal"]["type"] == "group")
    assert group_row == {
        "principal": {"type": "group", "id": group.pk},
        "level": "view",
        "inherited_from": None,
        "inherited": True,
    }


def test_a_deleted_users_share_can_still_be_removed(client, admin, tree):
    gone = UserFactory()
    services.folder_share(actor=admin, folder=tree["spring"], principal=gone, level=Level.VIEW)
    type(gone).objects.filter(pk=gone.pk).update(status="inactive", is_active=False)
    client.force_login(admin)
    url = f"{API}/folders/{tree['spring'].pk}/shares/user/{gone.pk}"
    assert client.delete(url).status_code == 204


def test_patch_with_move_and_failing_rename_changes_nothing(client, admin, tree):
    make_folder("/Brand/Taken", actor=admin)
    client.force_login(admin)
    response = client.patch(
        f"{API}/folders/{tree['spring'].pk}",
        {"parent": tree["brand"].pk, "name": "Taken"},
        content_type="application/json",
    )
    assert response.status_code == 409
    assert fresh(tree["spring"]).path == "/Marketing/Spring"


def test_tree_changes_use_fresh_rows(admin, tree):
    """A stale object (read before another move) cannot corrupt the tree."""
    stale_spring = Folder.objects.get(pk=tree["spring"].pk)
    services.folder_move(actor=admin, folder=tree["spring"], parent=tree["brand"])
    services.folder_rename(actor=admin, folder=stale_spring, name="Spring 2")
    assert fresh(tree["spring"]).path == "/Brand/Spring 2"
    assert fresh(tree["week1"]).path == "/Brand/Spring 2/Week1"
    stale_marketing = Folder.objects.get(pk=tree["marketing"].pk)
    stale_brand = Folder.objects.get(pk=tree["brand"].pk)
    services.folder_move(actor=admin, folder=tree["marketing"], parent=tree["brand"])
    with pytest.raises(services.ValidationFailed):
        services.folder_move(actor=admin, folder=stale_brand, parent=stale_marketing)
