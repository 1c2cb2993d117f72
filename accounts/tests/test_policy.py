"""The permission policy: levels, cascading folder grants, roles, lists and lookups."""

from __future__ import annotations

import pytest
from django.http import Http404

from accounts import policy
from accounts.models import Role, User, UserStatus
from accounts.policy import (
    FolderAccess,
    Level,
    PermissionDeniedForLevel,
    access_for,
    get_asset_or_404,
    get_folder_or_404,
    reset_access_cache,
    visible_assets,
    visible_folders,
)
from assets.models import Asset, Folder
from dam.testing import (
    AdminFactory,
    GroupFactory,
    UserFactory,
    grant,
    make_asset,
    make_folder,
)

pytestmark = pytest.mark.django_db

ADMIN_ROLES = [Role.MASTER_ADMIN, Role.ADMIN, Role.TECHNICAL_ADMIN, Role.MEDIA_LIBRARY_ADMIN]
NON_ADMIN_ROLES = [Role.MEDIA_LIBRARY_USER, Role.REPORTS, Role.BILLING]


@pytest.fixture
def tree():
    """/A, /A/B, /A/B/C and /D, made by one admin."""
    admin = AdminFactory()
    c = make_folder("/A/B/C", actor=admin)
    d = make_folder("/D", actor=admin)
    b = c.parent
    a = b.parent
    return {"admin": admin, "A": a, "B": b, "C": c, "D": d}


def fresh(user) -> User:
    """A new user object: nothing cached from earlier policy calls."""
    return User.objects.get(pk=user.pk)


def levels(user, folders) -> dict[str, Level]:
    access = access_for(user)
    return {name: access.folder_level(folder) for name, folder in folders.items()}


# -- Level ----------------------------------------------------------------------------
def test_levels_are_ordered_each_a_superset_of_the_one_before():
    assert Level.NONE < Level.VIEW < Level.CONTRIBUTE < Level.EDIT < Level.MANAGE
    assert max(Level.VIEW, Level.EDIT, Level.CONTRIBUTE) is Level.EDIT
    assert Level.MANAGE >= Level.CONTRIBUTE
    assert not Level.VIEW >= Level.CONTRIBUTE


@pytest.mark.parametrize(
    ("level", "label", "codename"),
    [
        (Level.VIEW, "view", "view_folder"),
        (Level.CONTRIBUTE, "contribute", "contribute_folder"),
        (Level.EDIT, "edit", "edit_folder"),
        (Level.MANAGE, "manage", "manage_folder"),
    ],
)
def test_level_labels_and_codenames_round_trip(level, label, codename):
    assert level.label == label
    assert level.codename == codename
    assert Level.from_label(label) is level
    assert Level.from_label(label.upper()) is level
    assert Level.from_codename(codename) is level


def test_level_codenames_match_the_folder_permissions():
    codenames = {codename for codename, _ in Folder._meta.permissions}
    assert codenames == {level.codename for level in Level.folder_levels()}


def test_unknown_level_label_is_an_error():
    with pytest.raises(KeyError):
        Level.from_label("owner")
    with pytest.raises(KeyError):  # not a folder level: never granted on a folder
        Level.from_label("collection")


# -- effective level ------------------------------------------------------------------
def test_no_grant_means_none_everywhere(tree):
    user = UserFactory()
    folders = {k: v for k, v in tree.items() if k != "admin"}
    assert set(levels(user, folders).values()) == {Level.NONE}
    assert list(visible_folders(user)) == []


def test_a_grant_cascades_to_every_subfolder_and_not_upwards_or_sideways(tree):
    user = UserFactory()
    grant(user, tree["B"], "view")
    assert levels(user, {k: tree[k] for k in "ABCD"}) == {
        "A": Level.NONE,
        "B": Level.VIEW,
        "C": Level.VIEW,
        "D": Level.NONE,
    }


def test_a_subfolder_grant_raises_the_level(tree):
    user = UserFactory()
    grant(user, tree["A"], "view")
    grant(user, tree["B"], "edit")
    assert levels(user, {k: tree[k] for k in "ABC"}) == {
        "A": Level.VIEW,
        "B": Level.EDIT,
        "C": Level.EDIT,
    }


def test_a_subfolder_grant_never_lowers_the_level(tree):
    user = UserFactory()
    grant(user, tree["A"], "manage")
    grant(user, tree["B"], "view")
    assert levels(user, {k: tree[k] for k in "ABC"}) == {
        "A": Level.MANAGE,
        "B": Level.MANAGE,
        "C": Level.MANAGE,
    }


def test_group_grants_count_and_the_highest_wins(tree):
    user = UserFactory()
    editors, viewers = GroupFactory(), GroupFactory()
    user.groups.add(editors, viewers)
    grant(viewers, tree["A"], "view")
    grant(editors, tree["B"], "contribute")
    grant(user, tree["C"], "edit")
    assert levels(user, {k: tree[k] for k in "ABCD"}) == {
        "A": Level.VIEW,
        "B": Level.CONTRIBUTE,
        "C": Level.EDIT,
        "D": Level.NONE,
    }


def test_group_grant_higher_than_the_users_own_wins(tree):
    user = UserFactory()
    group = GroupFactory()
    user.groups.add(group)
    grant(user, tree["A"], "view")
    grant(group, tree["A"], "manage")
    assert access_for(user).folder_level(tree["C"]) is Level.MANAGE


def test_grants_of_other_users_and_other_groups_do_not_count(tree):
    user, other = UserFactory(), UserFactory()
    group = GroupFactory()
    other.groups.add(group)
    grant(other, tree["A"], "manage")
    grant(group, tree["D"], "manage")
    assert set(levels(user, {k: tree[k] for k in "ABCD"}).values()) == {Level.NONE}


def test_asset_level_follows_its_folder(tree):
    user = UserFactory()
    grant(user, tree["A"], "view")
    grant(user, tree["C"], "contribute")
    in_b = make_asset(tree["B"], actor=tree["admin"])
    in_c = make_asset(tree["C"], actor=tree["admin"])
    in_d = make_asset(tree["D"], actor=tree["admin"])
    access = access_for(user)
    assert access.asset_level(in_b) is Level.VIEW
    assert access.asset_level(in_c) is Level.CONTRIBUTE
    assert access.asset_level(in_d) is Level.NONE


# -- roles ----------------------------------------------------------------------------
@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_admin_roles_manage_everything_without_grants(tree, role):
    user = UserFactory(role=role)
    asset = make_asset(tree["D"], actor=tree["admin"])
    assert set(levels(user, {k: tree[k] for k in "ABCD"}).values()) == {Level.MANAGE}
    assert access_for(user).asset_level(asset) is Level.MANAGE
    assert set(visible_folders(user)) == set(Folder.objects.all())
    assert list(visible_assets(user, minimum=Level.MANAGE)) == [asset]
    assert access_for(user).top_folder_ids() is None
    assert policy.is_admin_role(user)
    assert policy.can_create_top_level_folder(user)


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_admin_roles_need_no_grant_queries(tree, role, django_assert_num_queries):
    user = UserFactory(role=role)
    with django_assert_num_queries(0):
        assert access_for(user).folder_level(tree["C"]) is Level.MANAGE


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_other_roles_do_not_manage_everything(tree, role):
    user = UserFactory(role=role)
    make_asset(tree["A"], actor=tree["admin"])
    assert not policy.is_admin_role(user)
    assert not policy.can_create_top_level_folder(user)
    assert access_for(user).folder_level(tree["A"]) is Level.NONE
    assert list(visible_folders(user)) == []
    assert list(visible_assets(user)) == []


@pytest.mark.parametrize("role", [Role.REPORTS, Role.BILLING])
def test_reports_and_billing_see_no_library_even_with_a_grant(tree, role):
    user = UserFactory(role=role)
    grant(user, tree["A"], "manage")
    make_asset(tree["A"], actor=tree["admin"])
    assert access_for(user).folder_level(tree["A"]) is Level.NONE
    assert list(visible_folders(user)) == []
    assert list(visible_assets(user)) == []
    with pytest.raises(Http404):
        get_folder_or_404(user, tree["A"].pk)


@pytest.mark.parametrize(
    ("role", "library", "users", "preferences", "reports"),
    [
        (Role.MASTER_ADMIN, True, True, True, True),
        (Role.ADMIN, True, True, False, True),
        (Role.TECHNICAL_ADMIN, True, False, False, True),
        (Role.MEDIA_LIBRARY_ADMIN, True, False, False, True),
        (Role.MEDIA_LIBRARY_USER, True, False, False, False),
        (Role.REPORTS, False, False, False, True),
        (Role.BILLING, False, False, False, True),
    ],
)
def test_role_capabilities(role, library, users, preferences, reports):
    user = UserFactory(role=role)
    assert policy.can_use_library(user) is library
    assert policy.can_manage_users(user) is users
    assert policy.can_change_preferences(user) is preferences
    assert policy.can_see_reports(user) is reports


def test_media_library_user_moderates_only_with_the_permission():
    assert not policy.can_moderate_somewhere(UserFactory())
    assert policy.can_moderate_somewhere(UserFactory(can_moderate_assets=True))
    assert policy.can_moderate_somewhere(UserFactory(role=Role.ADMIN))
    assert not policy.can_moderate_somewhere(
        UserFactory(role=Role.REPORTS, can_moderate_assets=True)
    )


# -- inactive users -------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes",
    [
        {"status": UserStatus.INACTIVE},
        {"is_active": False},
        {"status": UserStatus.INACTIVE, "role": Role.MASTER_ADMIN},
        {"is_active": False, "role": Role.ADMIN},
    ],
)
def test_inactive_users_see_nothing(tree, changes):
    user = UserFactory()
    grant(user, tree["A"], "manage")
    asset = make_asset(tree["A"], actor=tree["admin"])
    User.objects.filter(pk=user.pk).update(**changes)
    user = fresh(user)
    assert not policy.is_admin_role(user)
    assert not policy.can_use_library(user)
    assert access_for(user).folder_level(tree["C"]) is Level.NONE
    assert access_for(user).asset_level(asset) is Level.NONE
    assert list(visible_folders(user)) == []
    assert list(visible_assets(user)) == []
    with pytest.raises(Http404):
        get_asset_or_404(user, asset.pk)


def test_anonymous_and_missing_users_see_nothing(tree, rf):
    from django.contrib.auth.models import AnonymousUser

    anonymous = AnonymousUser()
    assert FolderAccess(None).folder_level(tree["A"]) is Level.NONE
    assert FolderAccess(anonymous).folder_level(tree["A"]) is Level.NONE
    assert list(visible_folders(anonymous)) == []
    assert list(visible_assets(None)) == []


# -- root_ids -------------------------------------------------------------------------
def test_root_ids_collapses_nested_grants_to_minimal_roots(tree):
    user = UserFactory()
    group = GroupFactory()
    user.groups.add(group)
    grant(user, tree["A"], "view")
    grant(group, tree["B"], "edit")
    grant(user, tree["C"], "view")
    grant(group, tree["D"], "contribute")
    access = access_for(user)
    assert access.root_ids() == sorted([tree["A"].pk, tree["D"].pk])
    assert access.root_ids(Level.CONTRIBUTE) == sorted([tree["B"].pk, tree["D"].pk])
    assert access.root_ids(Level.EDIT) == [tree["B"].pk]
    assert access.root_ids(Level.MANAGE) == []
    assert access.top_folder_ids() == access.root_ids()


def test_root_ids_dedupes_the_same_folder_granted_twice(tree):
    user = UserFactory()
    group = GroupFactory()
    user.groups.add(group)
    grant(user, tree["B"], "view")
    grant(group, tree["B"], "manage")
    grant(user, tree["C"], "manage")
    access = access_for(user)
    assert access.root_ids() == [tree["B"].pk]
    assert access.root_ids(Level.MANAGE) == [tree["B"].pk]


def test_root_ids_empty_without_grants():
    assert access_for(UserFactory()).root_ids() == []


# -- lists ----------------------------------------------------------------------------
def test_visible_folders_is_the_granted_subtrees(tree):
    user = UserFactory()
    grant(user, tree["B"], "view")
    assert set(visible_folders(user)) == {tree["B"], tree["C"]}
    assert set(visible_folders(user, minimum=Level.CONTRIBUTE)) == set()
    grant(user, tree["D"], "contribute")
    reset_access_cache(user)
    assert set(visible_folders(user)) == {tree["B"], tree["C"], tree["D"]}
    assert set(visible_folders(user, minimum=Level.CONTRIBUTE)) == {tree["D"]}


def test_visible_folders_filters_a_given_queryset(tree):
    user = UserFactory()
    grant(user, tree["A"], "view")
    children_of_a = Folder.objects.filter(parent=tree["A"])
    assert list(visible_folders(user, children_of_a)) == [tree["B"]]
    assert list(visible_folders(user, Folder.objects.filter(parent__isnull=True))) == [tree["A"]]


def test_visible_assets_is_the_assets_under_granted_folders(tree):
    admin = tree["admin"]
    user = UserFactory()
    in_a = make_asset(tree["A"], actor=admin)
    in_c = make_asset(tree["C"], actor=admin)
    in_d = make_asset(tree["D"], actor=admin)
    assert list(visible_assets(user)) == []

    grant(user, tree["B"], "view")
    grant(user, tree["D"], "edit")
    reset_access_cache(user)
    assert set(visible_assets(user)) == {in_c, in_d}
    assert set(visible_assets(user, minimum=Level.EDIT)) == {in_d}
    assert set(visible_assets(user, Asset.objects.filter(folder=tree["C"]))) == {in_c}
    assert in_a not in set(visible_assets(user))


def test_visible_assets_query_count_does_not_grow_with_grants_or_assets(
    tree, django_assert_num_queries
):
    admin = tree["admin"]
    user = UserFactory()
    groups = GroupFactory.create_batch(5)
    user.groups.add(*groups)
    for folder in (tree["A"], tree["B"], tree["C"], tree["D"]):
        grant(user, folder, "view")
        for group in groups:
            grant(group, folder, "contribute")
        make_asset(folder, actor=admin)
        make_asset(folder, actor=admin)
    user = fresh(user)
    with django_assert_num_queries(2):  # the grants (user and group, one query), the list
        assert len(list(visible_assets(user))) == 8


# -- query counts and caching ---------------------------------------------------------
def test_grant_loading_is_one_query_cached_per_user_object(tree, django_assert_num_queries):
    user = UserFactory()
    group = GroupFactory()
    user.groups.add(group)
    grant(user, tree["A"], "view")
    grant(group, tree["D"], "edit")
    user = fresh(user)

    with django_assert_num_queries(1):
        assert access_for(user).folder_level(tree["C"]) is Level.VIEW
    with django_assert_num_queries(0):
        assert access_for(user).folder_level(tree["D"]) is Level.EDIT
        assert access_for(user).root_ids() == sorted([tree["A"].pk, tree["D"].pk])
        assert access_for(user) is access_for(user)

    other_object = fresh(user)
    with django_assert_num_queries(1):
        assert access_for(other_object).folder_level(tree["C"]) is Level.VIEW


def test_reset_access_cache_reloads_grants(tree, django_assert_max_num_queries):
    user = UserFactory()
    assert access_for(user).folder_level(tree["A"]) is Level.NONE
    grant(user, tree["A"], "view")
    assert access_for(user).folder_level(tree["A"]) is Level.NONE  # cached
    reset_access_cache(user)
    with django_assert_max_num_queries(2):
        assert access_for(user).folder_level(tree["A"]) is Level.VIEW


def test_user_without_grants_gets_an_empty_list_without_a_list_query(
    tree, django_assert_max_num_queries
):
    user = fresh(UserFactory())
    with django_assert_max_num_queries(2):
        assert list(visible_assets(user)) == []
        assert list(visible_folders(user)) == []


# -- get_folder_or_404 / get_asset_or_404 ---------------------------------------------
def test_get_folder_returns_a_visible_folder(tree):
    user = UserFactory()
    grant(user, tree["B"], "contribute")
    assert get_folder_or_404(user, tree["C"].pk) == tree["C"]
    assert get_folder_or_404(user, str(tree["C"].pk), Level.CONTRIBUTE) == tree["C"]


def test_get_folder_missing_and_invisible_look_the_same(tree):
    user = UserFactory()
    grant(user, tree["B"], "view")
    missing_id = Folder.objects.order_by("-pk").first().pk + 1000
    with pytest.raises(Http404) as missing:
        get_folder_or_404(user, missing_id)
    with pytest.raises(Http404) as invisible:
        get_folder_or_404(user, tree["A"].pk)  # an ancestor of a granted folder
    with pytest.raises(Http404) as invisible_high:
        get_folder_or_404(user, tree["D"].pk, Level.MANAGE)
    assert str(missing.value) == str(invisible.value) == str(invisible_high.value)


@pytest.mark.parametrize("bad_id", [None, "", "abc", "1.5", 0, -3, 2**63, "9" * 40])
def test_get_folder_with_a_malformed_id_is_404(tree, bad_id):
    with pytest.raises(Http404):
        get_folder_or_404(tree["admin"], bad_id)


def test_get_folder_visible_but_insufficient_is_permission_denied(tree):
    user = UserFactory()
    grant(user, tree["A"], "view")
    with pytest.raises(PermissionDeniedForLevel) as info:
        get_folder_or_404(user, tree["C"].pk, Level.CONTRIBUTE)
    assert info.value.needed is Level.CONTRIBUTE
    assert info.value.have is Level.VIEW
    assert str(info.value) == ("This needs contribute access to the folder; you have view access.")


def test_get_asset_returns_a_visible_asset(tree):
    user = UserFactory()
    grant(user, tree["A"], "edit")
    asset = make_asset(tree["C"], actor=tree["admin"])
    assert get_asset_or_404(user, asset.pk) == asset
    assert get_asset_or_404(user, asset.pk, Level.EDIT) == asset


def test_get_asset_missing_and_invisible_look_the_same(tree):
    user = UserFactory()
    grant(user, tree["B"], "manage")
    invisible = make_asset(tree["A"], actor=tree["admin"])
    missing_id = invisible.pk + 1000
    with pytest.raises(Http404) as missing:
        get_asset_or_404(user, missing_id)
    with pytest.raises(Http404) as hidden:
        get_asset_or_404(user, invisible.pk)
    assert str(missing.value) == str(hidden.value)
    for bad_id in (None, "x", 0, 2**63):
        with pytest.raises(Http404):
            get_asset_or_404(user, bad_id)


def test_get_asset_visible_but_insufficient_is_permission_denied(tree):
    user = UserFactory()
    grant(user, tree["A"], "contribute")
    asset = make_asset(tree["B"], actor=tree["admin"])
    with pytest.raises(PermissionDeniedForLevel) as info:
        get_asset_or_404(user, asset.pk, Level.MANAGE)
    assert (info.value.needed, info.value.have) == (Level.MANAGE, Level.CONTRIBUTE)


def test_get_asset_uses_a_given_queryset(tree):
    asset = make_asset(tree["A"], actor=tree["admin"])
    with pytest.raises(Http404):
        get_asset_or_404(tree["admin"], asset.pk, queryset=Asset.objects.exclude(pk=asset.pk))


def test_get_asset_query_count(tree, django_assert_max_num_queries):
    user = UserFactory()
    grant(user, tree["A"], "view")
    asset = make_asset(tree["C"], actor=tree["admin"])
    user = fresh(user)
    with django_assert_max_num_queries(3):  # the asset (with folder) + two grant queries
        fetched = get_asset_or_404(user, asset.pk)
        assert fetched.folder == tree["C"]
