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
    assert 'href="?q=kitten&amp;tags=night"' in html  # a facet sets the panel's filter
    assert 'href="?q=kitten&amp;type=image"' in html and ">Image</a>" in html  # by its label
    assert 'href="?q=kitten&amp;format=jpg"' in html and ">JPG</a>" in html
    narrowed = client.get("/search/", {"q": "kitten", "tags": "night"}).content.decode()
    assert "1 result" in narrowed
    assert 'aria-label="Remove filter Tag: night" href="?q=kitten"' in narrowed or (
        'href="?q=kitten" aria-label="Remove filter Tag: night"' in narrowed
    )
    both = client.get("/search/", {"q": "kitten", "tags": "kitten, night", "type": "image"})
    html = both.content.decode()
    assert 'href="?q=kitten&amp;tags=kitten&amp;type=image"' in html  # without "night"
    assert 'href="?q=kitten&amp;tags=kitten%2C+night"' in html  # without the type


def test_a_tag_with_a_comma_narrows_as_a_query_term(client, world):
    from assets.models import Asset

    Asset.objects.filter(display_name="kitten-one").update(tags=["kitten", "red, blue"])
    client.force_login(world["viewer"])
    html = client.get("/search/", {"q": "kitten"}).content.decode()
    assert 'href="?q=kitten&amp;expression=tags%3A%22red%2C+blue%22"' in html
    narrowed = client.get("/search/", {"q": "kitten", "expression": 'tags:"red, blue"'})
    assert "1 result" in narrowed.content.decode()


def test_past_the_limit_the_page_says_more_than(client, world, monkeypatch):
    from assets import search

    monkeypatch.setattr(search, "COUNT_LIMIT", 1)
    monkeypatch.setattr(search, "FACET_SAMPLE", 1)
    monkeypatch.setattr(search, "SMALL_LIBRARY", 0)  # as if the viewer saw a big library
    client.force_login(world["viewer"])
    html = client.get("/search/", {"q": "kitten"}).content.decode()
    assert "More than 1 result" in html and "Counted up to 1." in html and "Counts among" in html
    assert "kitten-secret" not in html


def test_pages_go_on_past_the_count_with_previous_and_next(client, world, monkeypatch):
    from assets import search, search_views

    monkeypatch.setattr(search, "COUNT_LIMIT", 1)
    monkeypatch.setattr(search, "SMALL_LIBRARY", 0)
    monkeypatch.setattr(search_views, "PAGE_SIZE", 1)
    client.force_login(world["viewer"])
    first = client.get("/search/", {"q": "kitten"}).content.decode()
    assert "Page 1<" in first and "Next" in first and "Previous" not in first
    second = client.get("/search/", {"q": "kitten", "page": "2"}).content.decode()
    assert "Page 2<" in second and "Previous" in second and "Next" not in second
    names = [n for n in ("kitten-one", "kitten-two") if n in first + second]
    assert len(names) == 2 and "kitten-secret" not in first + second
    for odd in ("x'; DROP", "²", "9" * 5000):
        response = client.get("/search/", {"q": "kitten", "page": odd})
        assert response.status_code == 200 and "Page 1<" in response.content.decode()
    past = client.get("/search/", {"q": "kitten", "page": "7"}).content.decode()
    assert "No more results" in past and "Previous" in past


def test_someone_who_sees_nothing_gets_an_empty_search(client, world):
    from dam.testing import UserFactory

    client.force_login(UserFactory())
    for params in ({"q": "kitten"}, {"expression": "tags:kitten"}):
        response = client.get("/search/", params)
        assert response.status_code == 200 and "Nothing found" in response.content.decode()


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


def test_a_search_past_the_time_limit_asks_to_narrow_it(client, world, monkeypatch):
    from dam.testing import slow_searches

    client.force_login(world["admin"])
    slow_searches(monkeypatch)
    response = client.get("/search/", {"q": "kitten"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "The search took too long" in html and 'role="alert"' in html
    assert "took longer than 0.1 seconds and was stopped. Narrow it" in html
    assert "Save this search as" not in html  # nothing to save
    assert 'value="kitten"' in html  # the search is kept, to narrow


def test_suggestions_while_typing(client, world, django_assert_max_num_queries):
    client.force_login(world["viewer"])
    html = client.get("/search/suggest/", {"q": "kit"}).content.decode()
    assert 'role="option"' in html and "kitten" in html and "secret" not in html
    assert "See all results for “kit”" in html and 'data-href="/search/?q=kit"' in html
    assert client.get("/search/suggest/", {"q": "k"}).content.decode().strip() == ""
    html = client.get("/search/suggest/", {"q": "zebra"}).content.decode()
    assert "No assets match “zebra”." in html and 'aria-disabled="true"' in html
    for query in ({"q": "\x00" * 5}, {"q": "x" * 10000}, {"q": "'; --"}, {}):
        assert client.get("/search/suggest/", query).status_code == 200
    html = _same_queries_with_more_matches(
        client, world, "/search/suggest/", django_assert_max_num_queries
    )
    assert html.count('class="suggest-option"') == 6  # six assets, then "See all results"


def test_slow_suggestions_offer_the_full_search(client, world, monkeypatch):
    from dam.testing import slow_searches

    client.force_login(world["admin"])
    slow_searches(monkeypatch)
    monkeypatch.setattr("assets.search.SUGGEST_TIMEOUT_MS", 100)
    response = client.get("/search/suggest/", {"q": "kitten"})
    assert response.status_code == 200
    assert "Still looking: press Enter to search for “kitten”." in response.content.decode()


def test_the_search_box_takes_the_query_language_too(client, world):
    client.force_login(world["viewer"])
    html = client.get("/search/", {"q": "tags:kitten"}).content.decode()
    assert "2 results" in html and "kitten-secret" not in html  # only what the viewer sees
    assert 'value="tags:kitten"' in html  # the box keeps what was typed
    assert '<details class="advanced">' in html  # and the Advanced panel stays closed
    html = client.get("/search/", {"q": "kitten AND night"}).content.decode()
    assert "1 result" in html and "kitten-two" in html  # AND is an operator, not a word
    html = client.get("/search/", {"q": "tags:kitten", "type": "image"}).content.decode()
    assert "2 results" in html  # with the other filters
    response = client.get("/search/", {"q": "Re: kitten"})  # looks alike: words
    assert response.status_code == 200 and "Nothing found" in response.content.decode()
    response = client.get("/search/", {"q": "type:sculpture"})
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="search-q-error"' in html and "type is one of" in html
    assert 'aria-invalid="true" aria-describedby="search-q-error"' in html
    assert "Fix it in the search box above" in html
    both = client.get("/search/", {"q": "tags:kitten", "expression": "width>abc"})
    html = both.content.decode()  # the Query field's mistake, counted in that field
    assert both.status_code == 400 and "(at character 1)" in html
    assert 'id="search-expression-error"' in html
    # Best match ranks by the query's words: "one" first, though it is the older one.
    html = client.get("/search/", {"q": "one OR tags:kitten", "sort": "relevance"}).content
    assert html.decode().index("kitten-one") < html.decode().index("kitten-two")
    html = client.get("/search/", {"q": "one OR tags:kitten"}).content  # newest first
    assert html.decode().index("kitten-two") < html.decode().index("kitten-one")
    html = client.get("/search/suggest/", {"q": "tags:kitten"}).content.decode()
    assert html.count('class="suggest-option"') == 2 and "secret" not in html
    assert client.get("/search/suggest/", {"q": "type:sculp"}).status_code == 200


def test_roles_outside_the_library_get_404(client, world):
    from accounts.models import Role

    client.force_login(UserFactory(role=Role.BILLING))
    assert client.get("/search/", {"q": "kitten"}).status_code == 404
    assert client.get("/search/suggest/", {"q": "kitten"}).status_code == 404


def _same_queries_with_more_matches(client, world, url: str, assert_max) -> str:
    """`url?q=kitten` as the logged-in user, then again after six more kittens: at most
    as many queries the second time. Its HTML."""
    with assert_max(30) as few:
        client.get(url, {"q": "kitten"})
    for i in range(6):
        make_asset(world["brand"], actor=world["admin"], name=f"kitten-{i}.jpg", tags=["kitten"])
    with assert_max(len(few.captured_queries)):
        return client.get(url, {"q": "kitten"}).content.decode()


def test_the_page_keeps_its_query_count(client, world, django_assert_max_num_queries):
    client.force_login(world["viewer"])
    html = _same_queries_with_more_matches(client, world, "/search/", django_assert_max_num_queries)
    assert "8 results" in html


def test_metadata_facets_narrow_by_value(client, world):
    from assets import services
    from assets.models import Asset
    from metadata.demo import build_three_levels

    build_three_levels(world["admin"])
    asset = Asset.objects.filter(folder=world["brand"]).first()
    services.asset_update(actor=world["admin"], asset=asset, metadata={"category": "customer"})
    client.force_login(world["viewer"])
    html = client.get("/search/", {"q": "kitten"}).content.decode()
    assert ">Category</h2>" in html and ">Customer</a>" in html
    assert "expression=metadata.category%3Acustomer" in html


# -- find similar ---------------------------------------------------------------------------
def test_find_similar_orders_by_look_and_hides_the_invisible(client, world):
    from assets.models import Asset

    one, two = Asset.objects.filter(folder=world["brand"]).order_by("id")[:2]
    secret = Asset.objects.exclude(folder=world["brand"]).get()
    Asset.objects.filter(pk=one.pk).update(phash="ffff0000ffff0000")
    Asset.objects.filter(pk=two.pk).update(phash="ffff0000ffff0001")  # 1 bit away
    Asset.objects.filter(pk=secret.pk).update(phash="ffff0000ffff0000")  # identical, hidden
    client.force_login(world["viewer"])
    html = client.get("/search/", {"similar": one.pk}).content.decode()
    assert "Similar to" in html and "1 result" in html and two.display_name in html
    assert secret.display_name not in html
    assert client.get("/search/", {"similar": secret.pk}).status_code == 404
    body = client.get("/api/v1/search", {"similar": one.pk}).json()
    assert [a["id"] for a in body["results"]] == [two.pk]


# -- saved searches ---------------------------------------------------------------------------
def test_save_run_and_delete_a_search(client, world):
    from assets.models import SavedSearch

    client.force_login(world["viewer"])
    response = client.post(
        "/search/save/", {"name": "Night kittens", "query": "q=kitten&expression=tags:night&page=3"}
    )
    saved = SavedSearch.objects.get()
    assert saved.query == "q=kitten&expression=tags%3Anight"  # the page is not saved
    assert response["Location"] == f"/search/?{saved.query}"
    html = client.get(response["Location"]).content.decode()
    assert "Saved searches (1)" in html and "1 result" in html
    again = client.post("/search/save/", {"name": "night KITTENS", "query": "q=x"})
    assert SavedSearch.objects.count() == 1 and again.status_code == 302
    bad = client.post("/search/save/", {"name": "Broken", "query": "expression=(a"})
    assert SavedSearch.objects.count() == 1 and bad.status_code == 302
    other = UserFactory()
    client.force_login(other)
    assert client.post(f"/search/saved/{saved.pk}/delete/").status_code == 404
    client.force_login(world["viewer"])
    client.post(f"/search/saved/{saved.pk}/delete/")
    assert not SavedSearch.objects.exists()


def test_saved_searches_api(client, world):
    client.force_login(world["viewer"])
    created = client.post(
        "/api/v1/saved-searches", {"name": "Kittens", "query": "q=kitten"}, "application/json"
    )
    assert created.status_code == 201
    body = created.json()
    assert body["url"].endswith("/search/?q=kitten")
    assert [s["name"] for s in client.get("/api/v1/saved-searches").json()] == ["Kittens"]
    for bad in ({"name": "", "query": "q=a"}, {"name": "x", "query": ""},
                {"name": "y", "query": "expression=NOT"}, [], {"name": "z"}):  # fmt: skip
        response = client.post("/api/v1/saved-searches", bad, "application/json")
        assert response.status_code == 422, bad
    duplicate = client.post(
        "/api/v1/saved-searches", {"name": "kittens", "query": "q=a"}, "application/json"
    )
    assert duplicate.status_code == 409
    client.force_login(UserFactory())
    assert client.delete(f"/api/v1/saved-searches/{body['id']}").status_code == 404
    assert client.get("/api/v1/saved-searches").json() == []


def test_the_asset_page_offers_find_similar(client, world):
    from assets.models import Asset

    asset = Asset.objects.filter(folder=world["brand"]).first()
    Asset.objects.filter(pk=asset.pk).update(phash="ffff0000ffff0000")
    client.force_login(world["viewer"])
    html = client.get(f"/assets/{asset.pk}/").content.decode()
    assert f'href="/search/?similar={asset.pk}">Find similar</a>' in html


def test_the_advanced_panel_filters_by_size_dates_uploader_and_metadata(client, world):
    from datetime import timedelta

    from django.utils import timezone

    from accounts import services as account_services
    from assets import services
    from assets.models import Asset
    from metadata import services as metadata_services
    from metadata.demo import build_three_levels

    build_three_levels(world["admin"])
    metadata_services.field_create(actor=world["admin"], label="Rating", type="number")
    one, two = Asset.objects.filter(folder=world["brand"]).order_by("id")[:2]
    services.asset_update(
        actor=world["admin"], asset=one, metadata={"category": "customer", "rating": 4}
    )
    Asset.objects.filter(pk=one.pk).update(width=2000, bytes=3 * 1024 * 1024)
    Asset.objects.filter(pk=two.pk).update(created_at=timezone.now() - timedelta(days=90))
    uploader = UserFactory(first_name="Gone")
    grant(uploader, world["brand"], "contribute")
    mine = make_asset(world["brand"], actor=uploader, name="by-gone.jpg")
    account_services.user_delete(actor=world["admin"], user=uploader)
    client.force_login(world["viewer"])

    def found(**params) -> set[int]:
        html = client.get("/search/", params).content.decode()
        return {a.pk for a in Asset.objects.all() if f'id="asset-{a.pk}"' in html}

    assert found(p_width_min="1500") == {one.pk}
    assert found(p_size_min="2", p_size_max="5") == {one.pk}
    old = (timezone.now() - timedelta(days=30)).date().isoformat()
    assert found(p_created_to=old) == {two.pk}
    assert found(m_category=["customer", "employee"]) == {one.pk}
    assert found(m_rating_min="3", m_rating_max="5") == {one.pk}
    assert found(p_uploader=str(uploader.pk)) == {mine.pk}
    page = client.get("/search/", {"p_uploader": str(uploader.pk)}).content.decode()
    assert "Gone Tester (inactive)" in page
    assert found(p_width_min="abc") == found()  # ignored, not an error


def test_a_text_field_matches_exactly_or_contains_and_a_panel_search_saves_whole(client, world):
    """The Advanced panel offers "contains" or "is exactly" for a text field; a search
    built in the panel (metadata, size, uploader) is saved as the query language, so its
    link finds the same assets."""
    import re
    from html import unescape

    from assets import services
    from assets.models import Asset, SavedSearch
    from metadata import services as metadata_services

    metadata_services.field_create(
        actor=world["admin"], label="Photographer", type="string", external_id="photographer"
    )
    one, two = Asset.objects.filter(folder=world["brand"]).order_by("id")[:2]
    services.asset_update(actor=world["admin"], asset=one, metadata={"photographer": "Ana Silva"})
    services.asset_update(actor=world["admin"], asset=two, metadata={"photographer": "Ana"})
    Asset.objects.filter(pk=one.pk).update(width=2000)
    client.force_login(world["viewer"])

    def found(params) -> set[int]:
        html = client.get("/search/", params).content.decode()
        return {a.pk for a in Asset.objects.all() if f'id="asset-{a.pk}"' in html}

    assert found({"m_photographer": "ana"}) == {one.pk, two.pk}  # contains, by default
    exact = {"m_photographer": "ANA", "m_photographer_match": "exact"}
    assert found(exact) == {two.pk}
    page = client.get("/search/", exact).content.decode()
    assert '<option value="exact" selected>is exactly</option>' in page  # kept on the page
    assert 'for="m-photographer-match" class="visually-hidden">How Photographer matches' in page

    panel = {**exact, "m_photographer": "ana silva", "p_width_min": "1500", "q": "kitten"}
    panel["p_uploader"] = str(world["admin"].pk)
    page = client.get("/search/", panel).content.decode()
    query = unescape(re.search(r'name="query" value="([^"]*)"', page).group(1))
    assert "m_photographer" not in query and "p_width_min" not in query
    response = client.post("/search/save/", {"name": "Ana's wide ones", "query": query})
    saved = SavedSearch.objects.get()
    assert response["Location"] == f"/search/?{saved.query}"
    from django.http import QueryDict

    expression = QueryDict(saved.query)["expression"]
    assert expression == (
        f'width>=1500 metadata.photographer="ana silva" uploader:{world["admin"].pk}'
    )
    assert found(QueryDict(saved.query)) == {one.pk}
