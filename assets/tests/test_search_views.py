"""The search page: results, facets that narrow, mistakes shown in place, permissions,
and a query count that does not grow with the page."""

from __future__ import annotations

import pytest

from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    admin = AdminFactory()
    brand = make_folder("/Brand", actor=admin)
    secret = make_folder("/Secret", actor=admin)
    make_asset(brand, actor=admin, name="kitten-one.jpg", tags=["kitten"])
    make_asset(brand, actor=admin, name="kitten-two.png", tags=["kitten", "night"])
    make_asset(secret, actor=admin, name="kitten-secret.jpg", tags=["kitten", "secret"])
    viewer = UserFactory()
    grant(viewer, brand, "view")
    return {"admin": admin, "viewer": viewer, "brand": brand}


def test_the_empty_page_invites_a_search(client, world):
    client.force_login(world["viewer"])
    html = client.get("/search/").content.decode()
    assert "Search the library" in html and 'role="search"' in html


def test_results_and_facets_for_a_restricted_user(client, world):
    client.force_login(world["viewer"])
    html = client.get("/search/", {"q": "kitten"}).content.decode()
    assert "2 results" in html and "kitten-secret" not in html and "secret" not in html
    assert 'href="?q=kitten&amp;expression=tags%3Anight"' in html  # a facet narrows
    narrowed = client.get("/search/", {"q": "kitten", "expression": "tags:night"})
    assert "1 result" in narrowed.content.decode()


def test_a_mistake_is_shown_with_its_position(client, world):
    client.force_login(world["admin"])
    response = client.get("/search/", {"expression": "(tags:kitten"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "never closed (at character 1)" in html and 'aria-invalid="true"' in html


def test_hostile_input_never_500(client, world):
    client.force_login(world["admin"])
    for query in ({"q": "\x00" * 5}, {"expression": "(" * 500}, {"sort": "'; --"},
                  {"type": "robot"}, {"page": "9999999999999"}, {"q": "x" * 10000}):  # fmt: skip
        assert client.get("/search/", query).status_code in (200, 400)


def test_roles_outside_the_library_get_404(client, world):
    from accounts.models import Role

    client.force_login(UserFactory(role=Role.BILLING))
    assert client.get("/search/", {"q": "kitten"}).status_code == 404


def test_the_page_keeps_its_query_count(client, world, django_assert_max_num_queries):
    client.force_login(world["viewer"])
    with django_assert_max_num_queries(30) as few:
        client.get("/search/", {"q": "kitten"})
    for i in range(6):
        make_asset(world["brand"], actor=world["admin"], name=f"kitten-{i}.jpg", tags=["kitten"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get("/search/", {"q": "kitten"}).content.decode()
    assert "8 results" in html
