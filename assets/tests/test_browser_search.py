"""Search in a real browser (Debian's Chromium, Playwright): the top bar's search box,
facets that narrow, the query language with a mistake shown in place, saving a search,
and "Find similar". A restricted user never sees assets outside their folders."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from assets.models import Asset, SavedSearch
from dam.pytest_browser import login, screenshot
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _world():
    admin = AdminFactory()
    brand = make_folder("/Brand", actor=admin)
    secret = make_folder("/Secret", actor=admin)
    make_asset(brand, actor=admin, name="kitten-day.jpg", tags=["kitten"])
    make_asset(brand, actor=admin, name="kitten-night.png", tags=["kitten", "night"])
    make_asset(brand, actor=admin, name="puppy.jpg", tags=["puppy"])
    make_asset(secret, actor=admin, name="kitten-secret.jpg", tags=["kitten", "secret"])
    viewer = UserFactory(first_name="Vera")
    grant(viewer, brand, "view")
    return viewer


def test_search_from_the_top_bar_narrow_fix_a_mistake_and_save(live_server, page):
    viewer = _world()
    login(page, live_server.url, viewer.email)

    box = page.get_by_role("search", name="Library").get_by_label("Search the library")
    box.fill("kit")  # a prefix finds whole words
    box.press("Enter")
    expect(page.get_by_role("heading", name="Search", exact=True)).to_be_visible()
    results = page.get_by_role("list", name="Search results")
    expect(page.get_by_role("heading", name="2 results")).to_be_visible()
    expect(results.get_by_role("link", name="kitten-day")).to_be_visible()
    expect(results.get_by_role("link", name="kitten-night")).to_be_visible()
    expect(page.get_by_text("kitten-secret")).to_have_count(0)  # another folder: invisible
    facets = page.get_by_role("complementary", name="Narrow the results")
    expect(facets.get_by_role("link", name="secret")).to_have_count(0)
    screenshot(page, "search-results")

    facets.get_by_role("link", name="night").click()  # a facet narrows
    expect(page.get_by_role("heading", name="1 result")).to_be_visible()
    expect(page.get_by_label("Tags (all of)")).to_have_value("night")  # the panel's filter
    chip = page.get_by_role("list", name="Active filters").get_by_role("link")
    expect(chip).to_have_accessible_name("Remove filter Tag: night")
    screenshot(page, "search-active-filter")
    chip.click()  # and it comes off again
    expect(page.get_by_role("heading", name="2 results")).to_be_visible()
    expect(page.get_by_label("Tags (all of)")).to_have_value("")
    page.get_by_text("Advanced search", exact=True).click()

    page.get_by_label("Query").fill("(tags:kitten OR tags:puppy")
    page.get_by_role("button", name="Search", exact=True).click()
    error = page.get_by_role("alert")
    expect(error).to_contain_text("This parenthesis is never closed (at character 1)")
    expect(page.get_by_label("Query")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "search-mistake")

    page.get_by_label("Search text").fill("")  # the query alone now
    page.get_by_label("Query").fill("(tags:kitten OR tags:puppy) -tags:night")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="2 results")).to_be_visible()
    expect(results.get_by_role("link", name="puppy")).to_be_visible()

    page.get_by_label("Save this search as").fill("Day animals")
    page.get_by_role("button", name="Save search").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved “Day animals”")
    saved = SavedSearch.objects.get(user=viewer)
    assert "expression=" in saved.query
    page.goto(live_server.url + "/search/")
    page.get_by_text("Saved searches (1)").click()
    page.get_by_role("list", name="Saved searches").get_by_role("link", name="Day animals").click()
    expect(page.get_by_role("heading", name="2 results")).to_be_visible()


def test_find_similar_from_the_asset_page(live_server, page):
    viewer = _world()
    day = Asset.objects.get(original_filename="kitten-day.jpg")
    night = Asset.objects.get(original_filename="kitten-night.png")
    Asset.objects.filter(pk=day.pk).update(phash="f0f0f0f0f0f0f0f0")
    Asset.objects.filter(pk=night.pk).update(phash="f0f0f0f0f0f0f0f1")
    Asset.objects.exclude(pk__in=[day.pk, night.pk]).update(phash="0f0f0f0f0f0f0f0f")
    login(page, live_server.url, viewer.email)
    page.goto(f"{live_server.url}/assets/{day.pk}/")
    page.get_by_role("link", name="Find similar").click()
    expect(page.get_by_role("heading", name=re.compile("Similar to"))).to_be_visible()
    results = page.get_by_role("list", name="Search results")
    expect(results.get_by_role("link")).to_have_count(1)
    expect(results.get_by_role("link", name="kitten-night")).to_be_visible()
    screenshot(page, "search-similar")


def test_a_broad_search_says_more_than_and_pages_on(live_server, page, monkeypatch):
    """Past the count limit the heading says "More than", the facets say they count a
    sample, and Next still reaches every match (the live server shares this process)."""
    from assets import search, search_views

    viewer = _world()
    monkeypatch.setattr(search, "COUNT_LIMIT", 1)
    monkeypatch.setattr(search, "FACET_SAMPLE", 1)
    monkeypatch.setattr(search, "SMALL_LIBRARY", 0)  # as if the viewer saw a big library
    monkeypatch.setattr(search_views, "PAGE_SIZE", 1)
    login(page, live_server.url, viewer.email)
    page.goto(f"{live_server.url}/search/?q=kitten")
    expect(page.get_by_role("heading", name="More than 1 result")).to_be_visible()
    expect(page.get_by_text("Counts among 1 of the matches.")).to_be_visible()
    results = page.get_by_role("list", name="Search results")
    expect(results.get_by_role("listitem")).to_have_count(1)
    seen = results.get_by_role("link").first.inner_text().split("\n")[0]
    expect(page.get_by_text("Page 1", exact=True)).to_be_visible()
    screenshot(page, "search-more-than")
    page.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Page 2", exact=True)).to_be_visible()
    expect(results.get_by_role("listitem")).to_have_count(1)
    other = results.get_by_role("link").first.inner_text().split("\n")[0]
    assert {seen, other} == {"kitten-day", "kitten-night"}
    expect(page.get_by_role("link", name="Next")).to_have_count(0)  # the secret one is not there
    expect(page.get_by_role("link", name="Previous")).to_be_visible()


def test_a_text_field_is_exactly_in_the_advanced_panel_and_saves_whole(live_server, page):
    """Advanced search: a text field matches "is exactly" (any case) or "contains"; the
    search built in the panel is saved whole (its link finds the same assets)."""
    from assets import services
    from metadata import services as metadata_services

    viewer = _world()
    admin = Asset.objects.get(original_filename="puppy.jpg").created_by
    metadata_services.field_create(
        actor=admin, label="Photographer", type="string", external_id="photographer"
    )
    metadata_services.field_create(
        actor=admin, label="Region", type="enum", values=["EMEA", "APAC"], external_id="region"
    )
    for name, who, region in (
        ("kitten-day.jpg", "Ana Silva", "apac"),
        ("kitten-night.png", "Ana", "emea"),
    ):
        asset = Asset.objects.get(original_filename=name)
        metadata = {"photographer": who, "region": region}
        services.asset_update(actor=admin, asset=asset, metadata=metadata)
    login(page, live_server.url, viewer.email)
    page.goto(f"{live_server.url}/search/")
    page.get_by_text("Advanced search", exact=True).click()
    page.get_by_label("Photographer", exact=True).fill("ana")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="2 results")).to_be_visible()  # contains

    page.get_by_label("How Photographer matches").select_option(label="is exactly")
    page.get_by_label("Photographer", exact=True).fill("ANA SILVA")
    page.get_by_role("button", name="Search", exact=True).click()
    results = page.get_by_role("list", name="Search results")
    expect(page.get_by_role("heading", name="1 result")).to_be_visible()
    expect(results.get_by_role("link", name="kitten-day")).to_be_visible()
    expect(page.get_by_label("How Photographer matches")).to_have_value("exact")
    screenshot(page, "search-text-field-exactly")

    # A list field is a group of checkboxes (any of); dates say which box is which.
    page.get_by_label("Photographer", exact=True).fill("")
    region = page.get_by_role("group", name="Region (any of)")
    region.get_by_role("checkbox", name="EMEA").check()
    expect(page.get_by_label("Created from")).to_be_visible()
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="1 result")).to_be_visible()
    expect(results.get_by_role("link", name="kitten-night")).to_be_visible()
    expect(region.get_by_role("checkbox", name="EMEA")).to_be_checked()
    screenshot(page, "search-advanced-lists-and-dates")
    region.get_by_role("checkbox", name="EMEA").uncheck()
    page.get_by_label("Photographer", exact=True).fill("ANA SILVA")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(results.get_by_role("link", name="kitten-day")).to_be_visible()

    page.get_by_label("Save this search as").fill("Ana's")
    page.get_by_role("button", name="Save search").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved “Ana's”")
    assert "metadata.photographer%3D%22ANA+SILVA%22" in SavedSearch.objects.get().query
    page.goto(live_server.url + "/search/")
    page.get_by_text("Saved searches (1)").click()
    page.get_by_role("list", name="Saved searches").get_by_role("link", name="Ana's").click()
    expect(page.get_by_role("heading", name="1 result")).to_be_visible()
    expect(page.get_by_label("Query")).to_have_value('metadata.photographer="ANA SILVA"')


def test_a_search_past_the_time_limit_asks_to_narrow_it(live_server, page, monkeypatch):
    from dam.testing import slow_searches

    viewer = _world()
    slow_searches(monkeypatch)  # the live server runs in this process
    login(page, live_server.url, viewer.email)
    box = page.get_by_role("search", name="Library").get_by_label("Search the library")
    box.fill("kitten")
    box.press("Enter")
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading", name="The search took too long")).to_be_visible()
    expect(alert).to_contain_text("took longer than 0.1 seconds and was stopped. Narrow it")
    expect(page.get_by_label("Search text")).to_have_value("kitten")  # kept, to narrow
    expect(page.get_by_role("button", name="Save search")).to_have_count(0)
    screenshot(page, "search-too-slow")
    monkeypatch.undo()
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="2 results")).to_be_visible()


def test_suggestions_while_typing_in_the_top_bar(live_server, page):
    viewer = _world()
    login(page, live_server.url, viewer.email)
    box = page.get_by_role("combobox", name="Search the library")
    suggestions = page.get_by_role("listbox", name="Suggestions")
    box.press_sequentially("kit", delay=40)
    expect(suggestions).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(suggestions.get_by_role("option")).to_have_count(3)  # two assets and "See all"
    expect(suggestions.get_by_role("option", name="kitten-day")).to_be_visible()
    expect(suggestions.get_by_text("kitten-secret")).to_have_count(0)  # another folder
    expect(page.get_by_text("2 suggestions, arrow keys to choose")).to_be_attached()  # said
    screenshot(page, "search-suggestions")

    box.press("Escape")  # closes, the text stays
    expect(suggestions).to_be_hidden()
    expect(box).to_have_value("kit")
    box.press("ArrowDown")  # opens again on the first suggestion
    expect(suggestions).to_be_visible()
    first = suggestions.get_by_role("option").first
    expect(first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    name = first.inner_text().split("\n")[0].strip()
    box.press("Enter")  # opens that asset
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()

    box = page.get_by_role("combobox", name="Search the library")
    box.press_sequentially("zebra", delay=40)
    expect(suggestions.get_by_text("No assets match “zebra”.")).to_be_visible()
    box.press("ArrowDown")  # the only choice left: every result, on the search page
    box.press("Enter")
    expect(page.get_by_role("heading", name="Nothing found")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/search/\?q=zebra$"))

    box = page.get_by_role("combobox", name="Search the library")
    box.fill("")
    box.press_sequentially("night", delay=40)
    suggestions.get_by_role("option", name="kitten-night").click()  # a click opens it too
    expect(page.get_by_role("heading", name="kitten-night", level=1)).to_be_visible()


def test_the_search_box_takes_the_query_language(live_server, page):
    viewer = _world()
    login(page, live_server.url, viewer.email)
    box = page.get_by_role("combobox", name="Search the library")
    box.fill("tags:kitten AND NOT tags:night")
    box.press("Enter")
    expect(page.get_by_role("heading", name="1 result")).to_be_visible()
    results = page.get_by_role("list", name="Search results")
    expect(results.get_by_role("link", name="kitten-day")).to_be_visible()
    page.get_by_label("Search text").fill("type:sculpture")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("type is one of")
    expect(page.get_by_label("Search text")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "search-box-mistake")
