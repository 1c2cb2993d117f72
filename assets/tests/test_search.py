"""Search: every filter and field of the language against real PostgreSQL (the trigger-kept
tsvector, GIN containment), permission filtering of results and facets, and the API's
errors for mistakes and hostile input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.policy import CollectionLevel
from assets import collection_services, services
from assets import search as search_module
from assets.models import Asset, Comment
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder
from metadata.demo import build_three_levels

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def world():
    admin = AdminFactory()
    brand = make_folder("/Brand/Logos", actor=admin).parent
    logos = brand.children.get()
    secret = make_folder("/Secret", actor=admin)
    build_three_levels(admin)
    cat = make_asset(brand, actor=admin, name="kitten-on-sofa.jpg", tags=["kitten", "sofa"])
    logo = make_asset(logos, actor=admin, name="brand-logo.png", tags=["logo"])
    hidden = make_asset(secret, actor=admin, name="secret-kitten.jpg", tags=["kitten", "secret"])
    services.asset_update(
        actor=admin, asset=cat, metadata={"category": "employee", "team": "sales"}
    )
    Asset.objects.filter(pk=logo.pk).update(
        context={"alt": "Red poster"}, width=2000, height=1000, bytes=5 * 1024 * 1024
    )
    Asset.objects.filter(pk=cat.pk).update(width=640, height=480, bytes=20_000)
    Asset.objects.filter(pk=hidden.pk).update(
        moderation_status="pending", width=900, height=600, bytes=500_000
    )
    viewer = UserFactory()
    grant(viewer, brand, "view")
    return {
        "admin": admin,
        "brand": brand,
        "logos": logos,
        "secret": secret,
        "cat": cat,
        "logo": logo,
        "hidden": hidden,
        "viewer": viewer,
    }


def fresh_user(user):
    """The same user as a new object (no per-request caches)."""
    return type(user).objects.get(pk=user.pk)


def found(user, **params) -> list:
    return list(search_module.search(user, search_module.Params(**params)))


def ids(user, expression="", **params) -> set[int]:
    return {a.pk for a in found(user, expression=expression, **params)}


# -- free text ---------------------------------------------------------------------------
def test_text_finds_names_tags_file_names_metadata_context_and_comments(world):
    admin, cat, logo = world["admin"], world["cat"], world["logo"]
    assert ids(admin, q="kitten") == {cat.pk, world["hidden"].pk}
    assert ids(admin, q="sofa") == {cat.pk}  # a tag and a word of the file name
    assert ids(admin, q="kit") == {cat.pk, world["hidden"].pk}  # prefix: as you type
    assert ids(admin, q="poster") == {logo.pk}  # a context value
    assert ids(admin, q="employee") == {cat.pk}  # a metadata value
    Comment.objects.create(asset=logo, author=admin, body="Approved by the zebra committee")
    assert ids(admin, q="zebra") == {logo.pk}  # comments, through the trigger
    Comment.objects.filter(asset=logo).delete()
    assert ids(admin, q="zebra") == set()
    assert ids(admin, expression='"on sofa"') == {cat.pk}  # a phrase
    assert ids(admin, expression='"sofa on"') == set()
    assert ids(admin, q="!!! ;; --") == ids(admin)  # nothing searchable: no filter


def test_the_word_being_typed_expands_into_the_words_assets_hold(world, monkeypatch):
    from assets.models import SearchLexeme

    admin, cat, hidden = world["admin"], world["cat"], world["hidden"]
    words = set(SearchLexeme.objects.values_list("word", flat=True))
    assert {"kitten", "sofa", "kitten-on-sofa", "logo", "employee"} <= words  # triggers
    assert search_module._expand("kitt") == ["kitten", "kitten-on-sofa"]
    assert search_module._expand("ki") is None  # short: PostgreSQL's prefix match
    assert ids(admin, q="kitt") == {cat.pk, hidden.pk}
    assert ids(admin, q="sofa kitt") == {cat.pk}
    assert ids(admin, q="kitten-on-s") == {cat.pk}
    assert ids(admin, q="kittz") == set()  # starts no word: finds nothing
    monkeypatch.setattr(search_module, "PREFIX_WORDS", 1)  # too many: a real prefix
    assert search_module._expand("kitt") is None
    assert ids(admin, q="kitt") == {cat.pk, hidden.pk}
    services.asset_update(actor=admin, asset=cat, display_name="Zebra O'Brien \\ café")
    assert {"zebra", "brien", "café"} <= set(SearchLexeme.objects.values_list("word", flat=True))
    monkeypatch.setattr(search_module, "PREFIX_WORDS", 40)
    assert ids(admin, q="caf") == {cat.pk} and ids(admin, q="zebra bri") == {cat.pk}
    Comment.objects.create(asset=cat, author=admin, body="Quokka approved")
    assert ids(admin, q="quok") == {cat.pk}  # a comment's words, through both triggers


@pytest.mark.parametrize("sort", search_module.SORTS)
def test_the_ids_read_are_sorted_as_the_walk_would_sort_them(world, sort, monkeypatch):
    """`find` sorts the matches it read in SQL; that order is the one `ordered` gives."""
    admin, brand = world["admin"], world["brand"]
    for i, name in enumerate(["b-kitten.jpg", "A-kitten.png", "c-kitten.jpg"]):
        asset = make_asset(brand, actor=admin, name=name, tags=["kitten"])
        Asset.objects.filter(pk=asset.pk).update(
            bytes=1000 * (i % 2), created_at=world["cat"].created_at
        )
    params = {"q": "kitten", "sort": sort}
    walked = [a.pk for a in search_module.search(admin, search_module.Params(**params))]
    read = search_module.find(admin, search_module.Params(**params))
    assert read.exact and [a.pk for a in read.rows] == walked
    assert [a.pk for a in read.rows[1:3]] == walked[1:3]


def test_relevance_puts_names_and_tags_first(world):
    admin = world["admin"]
    doc = make_asset(world["brand"], actor=admin, name="plain.jpg")
    Comment.objects.create(asset=doc, author=admin, body="a kitten was here")
    ranked = [a.pk for a in found(admin, q="kitten", sort="relevance")]
    assert ranked.index(world["cat"].pk) < ranked.index(doc.pk)


# -- the language ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("tags:kitten", {"cat", "hidden"}),
        ("tags:kitten AND NOT tags:secret", {"cat"}),
        ("tags:logo OR tags:sofa", {"cat", "logo"}),
        ("type:image", {"cat", "logo", "hidden"}),
        ("format:png", {"logo"}),
        ("format!=png", {"cat", "hidden"}),
        ("width>1000", {"logo"}),
        ("width<=640", {"cat"}),
        ("bytes>1MB", {"logo"}),
        ("bytes<100KB", {"cat"}),
        ("created_at>7d", {"cat", "logo", "hidden"}),
        ("created_at<7d", set()),
        ("moderation_status:pending", {"hidden"}),
        ("access_mode:public", {"cat", "logo", "hidden"}),
        ("metadata.category=employee", {"cat"}),
        ("metadata.category:Employee", {"cat"}),  # by label too
        ("metadata.team!=sales", {"logo", "hidden"}),
        ("context.alt:poster", {"logo"}),
        ('context.alt="Red poster"', {"logo"}),
        ("(tags:kitten OR format:png) -tags:secret", {"cat", "logo"}),
    ],
)
def test_every_field(world, expression, expected):
    names = {k: world[k].pk for k in ("cat", "logo", "hidden")}
    assert ids(world["admin"], expression) == {names[n] for n in expected}


def test_dates_folders_and_uploaders(world):
    admin, cat = world["admin"], world["cat"]
    old = timezone.now() - timedelta(days=40)
    Asset.objects.filter(pk=cat.pk).update(created_at=old)
    assert ids(admin, "created_at<30d") == {cat.pk}
    assert ids(admin, f"created_at={old.date().isoformat()}") == {cat.pk}
    assert ids(admin, f"created_at>{old.date().isoformat()}") == {
        world["logo"].pk,
        world["hidden"].pk,
    }
    assert ids(admin, f"folder:{world['brand'].pk}") == {cat.pk, world["logo"].pk}
    assert ids(admin, f"folder:{world['logos'].pk}") == {world["logo"].pk}
    assert ids(admin, f"uploader:{admin.pk}") == ids(admin)
    assert ids(admin, folder=world["brand"], include_subfolders=False) == {cat.pk}
    assert ids(admin, folder=world["brand"]) == {cat.pk, world["logo"].pk}


def test_list_metadata_matches_blocked_values_too(world):
    from metadata import services as metadata_services
    from metadata.models import MetadataValue

    value = MetadataValue.objects.get(field__external_id="category", external_id="employee")
    metadata_services.value_update(actor=world["admin"], value=value, blocked=True)
    assert ids(world["admin"], "metadata.category:employee") == {world["cat"].pk}


def test_text_metadata_equals_any_case_through_the_search_index(world):
    """`=` on a text field is exact but case-insensitive, answered by a term of the
    search vector (a hash of the upper-cased value, never a typed word); `:` contains,
    `!=` is every other asset; quotes, backslashes and long values are no different."""
    from django.db import connection

    from assets.models import SearchLexeme
    from metadata import services as metadata_services

    admin, cat, logo = world["admin"], world["cat"], world["logo"]
    metadata_services.field_create(
        actor=admin, label="Photographer", type="string", external_id="photographer"
    )
    metadata_services.field_create(actor=admin, label="Budget", type="number")
    services.asset_update(actor=admin, asset=cat, metadata={"photographer": "Ana Silva"})
    odd = 'O\'Brien \\ "Café" ' + "x" * 1900
    services.asset_update(actor=admin, asset=logo, metadata={"photographer": odd, "budget": 7})
    assert ids(admin, 'metadata.photographer="ana SILVA"') == {cat.pk}
    assert ids(admin, 'metadata.photographer="Ana"') == set()  # the whole value
    assert ids(admin, 'metadata.photographer="Ana Silvas"') == set()
    assert ids(admin, "metadata.photographer:silv") == {cat.pk}
    others = {logo.pk, world["hidden"].pk}  # without a value too, as for list fields
    assert ids(admin, 'metadata.photographer!="ana silva"') == others
    assert ids(admin, 'NOT metadata.photographer="ana silva"') == others
    quoted = odd.replace("\\", "\\\\").replace('"', '\\"').lower()
    assert ids(admin, f'metadata.photographer="{quoted}"') == {logo.pk}
    assert ids(world["viewer"], 'metadata.photographer="ana silva"') == {cat.pk}
    assert ids(world["viewer"], f'metadata.photographer="{quoted}"') == {logo.pk}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_length(tsvector_to_array(dam_metadata_terms(metadata)), 1)"
            " FROM assets_asset WHERE id = %s",
            [logo.pk],
        )
        assert cursor.fetchone()[0] == 1  # the text value only, not the number
        cursor.execute(
            "SELECT tsvector_to_array(dam_metadata_terms(%s::jsonb))",
            ['{"category": "employee", "photographer": "Ana Silva", "gone": "x"}'],
        )
        [term] = cursor.fetchone()[0]  # text fields only: not a list's, not an unknown key's
        assert term.startswith("=") and len(term) == 23
    assert not SearchLexeme.objects.filter(word__startswith="=").exists()
    services.asset_update(actor=admin, asset=cat, metadata={"photographer": "Ben Okafor"})
    assert ids(admin, 'metadata.photographer="ana silva"') == set()
    assert ids(admin, 'metadata.photographer="BEN OKAFOR"') == {cat.pk}


def test_search_reindex_recomputes_every_search_vector(world):
    """`manage.py search_reindex` rebuilds the vectors in batches (after a locale change)."""
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    admin, cat = world["admin"], world["cat"]
    Asset.objects.filter(pk=cat.pk).update(search_vector="")  # as if written by other rules
    assert ids(admin, q="kitten") == {world["hidden"].pk}
    assert ids(admin, "metadata.category=employee") == {cat.pk}  # a list: not the vector
    out = StringIO()
    call_command("search_reindex", "--batch", "1", "-v", "2", stdout=out)
    assert f"Re-indexed {Asset.objects.count()} assets." in out.getvalue()
    assert "assets re-indexed (ids span" in out.getvalue()  # progress per batch
    assert ids(admin, q="kitten") == {cat.pk, world["hidden"].pk}
    with pytest.raises(CommandError, match="at least 1"):
        call_command("search_reindex", "--batch", "0")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("colour:red", "Unknown field"),
        ("type:sculpture", "type is one of"),
        ("width>wide", "width takes a number"),
        ("bytes>10XB", "bytes takes a number"),
        ("created_at>yesterday", "takes a date"),
        ("created_at=2026-02-30", "is not a date"),
        ("created_at>3000y", "out of range"),
        ("updated_at<=9999-12-31", "out of range"),
        ("metadata.nope:x", "no metadata field"),
        ("metadata.category:astronaut", "has no value"),
        ("metadata.category>3", "is a list"),
        ("folder:abc", "folder takes a folder id"),
        ("tags>3", "tags take"),
        ("(tags:a", "never closed"),
    ],
)
def test_mistakes_are_syntax_errors_with_a_position(world, expression, message):
    from assets.search_query import QuerySyntaxError

    with pytest.raises(QuerySyntaxError) as info:
        found(world["admin"], expression=expression)
    assert message in info.value.message


# -- permissions ---------------------------------------------------------------------------------
def test_results_and_facets_never_show_invisible_assets(world):
    viewer = world["viewer"]
    assert ids(viewer, q="kitten") == {world["cat"].pk}
    rows = search_module.search(viewer, search_module.Params())
    facets = search_module.facets(rows)
    assert "secret" not in facets["tags"] and facets["tags"]["kitten"] == 1
    assert sum(facets["type"].values()) == 2
    assert ids(viewer, "tags:secret") == set()
    assert ids(UserFactory(), q="kitten") == set()  # no grants: nothing at all


def test_a_shared_collection_adds_its_assets_to_search(world):
    viewer = world["viewer"]
    collection = collection_services.collection_create(actor=world["admin"], name="Shared")
    collection_services.collection_add(
        actor=world["admin"], collection=collection, ids=[world["hidden"].pk]
    )
    collection_services.collection_share(
        actor=world["admin"],
        collection=collection,
        principal=viewer,
        level=CollectionLevel.VIEW,
    )
    from accounts import policy

    policy.reset_access_cache(viewer)
    assert ids(viewer, q="kitten") == {world["cat"].pk, world["hidden"].pk}


# -- the API -----------------------------------------------------------------------------------
def test_api_search_with_facets_and_paging(client, world):
    client.force_login(world["viewer"])
    body = client.get(f"{API}/search?q=kitten").json()
    assert [a["id"] for a in body["results"]] == [world["cat"].pk]
    assert body["facets"]["tags"] == {"kitten": 1, "sofa": 1}
    body = client.get(f"{API}/search?expression=type:image&page_size=1&sort=display_name").json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
    folder = client.get(f"{API}/search?folder={world['secret'].pk}")
    assert folder.status_code == 404  # an invisible folder does not exist


def test_api_search_answers_what_its_schema_would(client, world, monkeypatch):
    """The search endpoint renders its page without ninja validating it again (48 assets
    cost more to validate than to find): the body is byte for byte what validation through
    SearchPage would have rendered, thumbnails, delivery URLs, dates and facets included."""
    from dam.api import api

    Asset.objects.filter(pk=world["cat"].pk).update(
        processing_status="ready", version=3, duration=1.5, expires_at=timezone.now()
    )
    Asset.objects.filter(pk=world["logo"].pk).update(processing_status="ready")
    client.force_login(world["admin"])
    url = f"{API}/search?expression=type:image&sort=display_name&page_size=2"
    fast = client.get(url, secure=True, HTTP_HOST="testserver")
    original = api.create_response

    def validated(request, data, *, status=None, temporal_response=None):
        if temporal_response is None:  # the view's own call: hand the dict to ninja
            return data
        return original(request, data, status=status, temporal_response=temporal_response)

    monkeypatch.setattr(api, "create_response", validated)
    slow = client.get(url, secure=True, HTTP_HOST="testserver")
    assert fast.status_code == slow.status_code == 200
    assert fast["Content-Type"] == slow["Content-Type"]
    assert fast.content == slow.content
    body = fast.json()
    assert body["next"] and body["facets"]["type"] == {"image": 3}
    thumbs = {a["id"]: a["thumbnail_url"] for a in body["results"]}
    assert thumbs[world["cat"].pk] == (f"https://testserver/assets/{world['cat'].pk}/r/thumb/?v=3")


def test_a_search_reads_the_metadata_schema_once(client, world):
    """The expression and the facets share one schema (one token query per request)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(world["viewer"])
    url = f"{API}/search?expression=metadata.category=employee&q=kitten"
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        body = client.get(url).json()
    assert [a["id"] for a in body["results"]] == [world["cat"].pk]
    tokens = [q for q in captured.captured_queries if "metadata_schemarevision" in q["sql"]]
    assert len(tokens) == 1


def _setting(name: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


PLANNED = ("cpu_index_tuple_cost", "random_page_cost")


@pytest.mark.django_db(transaction=True)
def test_the_planner_settings_of_a_search_last_its_one_query(world):
    """The matches are found under the search's planner settings (cheap heap pages too for
    someone who sees few assets), sent with that query in one round trip, and gone after
    it: outside a transaction, the next statement sees the defaults."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    before = {name: _setting(name) for name in PLANNED}
    for user, cheap_pages in ((world["viewer"], True), (world["admin"], False)):
        with CaptureQueriesContext(connection) as captured:
            found = search_module.find(user, search_module.Params(expression="type:image"))
        assert found.count >= 1
        [collect] = [q["sql"] for q in captured.captured_queries if "WITH m AS" in q["sql"]]
        assert collect.startswith("SELECT set_config(")
        assert "set_config('cpu_index_tuple_cost', '0.05', true)" in collect
        assert ("set_config('random_page_cost', '1.1', true)" in collect) is cheap_pages
        assert not [q for q in captured.captured_queries if "set_config" in q["sql"]][1:]
        assert {name: _setting(name) for name in PLANNED} == before
    with connection.cursor() as cursor:  # outside a transaction: in force for the query
        cursor.execute(
            search_module.planned(
                search_module.FEW_PLANNER,
                "SELECT current_setting('cpu_index_tuple_cost'), "
                "current_setting('random_page_cost')",
            )
        )
        cursor.nextset()
        assert cursor.fetchall() == [("0.05", "1.1")]
    assert {name: _setting(name) for name in PLANNED} == before


def test_planned_sql_runs_under_its_settings_and_puts_a_callers_back(world):
    """Inside a caller's transaction (a job, a test) the settings are put back to what the
    caller had, its own SET LOCAL included, and the search finds the same."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL cpu_index_tuple_cost = 0.007")
        cursor.execute(
            search_module.planned(
                {"cpu_index_tuple_cost": "0.03", "enable_indexscan": "off"},
                "SELECT current_setting('cpu_index_tuple_cost'), "
                "current_setting('enable_indexscan'), %s::int",
            ),
            [7],
        )
        cursor.nextset()
        assert cursor.fetchall() == [("0.03", "off", 7)]
    assert _setting("cpu_index_tuple_cost") == "0.007"
    assert _setting("enable_indexscan") == "on"
    before = {name: _setting(name) for name in PLANNED}
    found = search_module.find(world["viewer"], search_module.Params(q="kitten"))
    assert found.count == 1
    assert {name: _setting(name) for name in PLANNED} == before


def test_thumbnail_urls_follow_the_script_prefix(world, rf):
    """The thumbnail URL is reversed once per URL configuration and script prefix, around
    the asset's id (dam.links), and made absolute with the request's host."""
    from django.urls import reverse
    from django.urls.base import get_script_prefix, set_script_prefix

    from assets.schemas import asset_out

    cat, logo = world["cat"], world["logo"]
    Asset.objects.filter(pk__in=[cat.pk, logo.pk]).update(processing_status="ready")
    cat.refresh_from_db()
    logo.refresh_from_db()
    before = get_script_prefix()
    set_script_prefix("/dam/")
    try:
        request = rf.get("/dam/api/v1/search", HTTP_HOST="testserver")
        out = [asset_out(a, request)["thumbnail_url"] for a in (cat, logo)]
        expected = [reverse("assets:rendition", args=[a.pk, "thumb"]) for a in (cat, logo)]
        assert expected[0].startswith("/dam/assets/")
        assert out == [
            f"http://testserver{path}?v={a.version}"
            for path, a in zip(expected, (cat, logo), strict=True)
        ]
        assert asset_out(cat)["thumbnail_url"] == f"{expected[0]}?v={cat.version}"
    finally:
        set_script_prefix(before)


def test_counts_and_facets_are_bounded_past_the_limit(client, world, monkeypatch):
    """Past COUNT_LIMIT matches the count says "more than", facets count FACET_SAMPLE of
    the matches, best match ranks COUNT_LIMIT of them; next links still reach every row."""
    admin, brand = world["admin"], world["brand"]
    names = ["bulk-0.png", "bulk-1.jpg", "bulk-2.jpg", "bulk-3.jpg"]
    extra = [make_asset(brand, actor=admin, name=n, tags=["bulk"]) for n in names]
    monkeypatch.setattr(search_module, "COUNT_LIMIT", 3)
    monkeypatch.setattr(search_module, "FACET_SAMPLE", 2)
    found = search_module.find(admin, search_module.Params(tags=["bulk"]))
    assert (found.count, found.exact, found.sampled) == (3, False, True)
    assert len(found.facet_ids) == 2 and set(found.facet_ids) <= {a.pk for a in extra}
    assert [a.pk for a in found.rows] == [a.pk for a in reversed(extra)]  # newest first
    assert search_module.found_facets(found)["tags"] == {"bulk": 2}
    client.force_login(admin)
    body = client.get(f"{API}/search?tags=bulk&page_size=3&exact_count=false").json()
    assert body["count"] == 3 and body["count_exact"] is False and body["facets_sampled"]
    assert sum(body["facets"]["format"].values()) == 2
    seen = [a["id"] for a in body["results"]]
    assert body["next"] and not body["previous"]
    body = client.get(body["next"]).json()
    seen += [a["id"] for a in body["results"]]
    assert body["next"] is None and body["previous"]
    assert seen == [a.pk for a in reversed(extra)]
    beyond = client.get(f"{API}/search?tags=bulk&page_size=3&page=9&exact_count=false").json()
    assert beyond["results"] == [] and beyond["previous"] is None and beyond["next"] is None
    ranked = client.get(f"{API}/search?q=bulk&sort=relevance&exact_count=false").json()
    assert ranked["count"] == 3 and ranked["count_exact"] is False
    assert len(ranked["results"]) == 3 and ranked["next"] is None
    # The API's default counts (and best match ranks) every match: `count` means them all.
    body = client.get(f"{API}/search?tags=bulk&page_size=3").json()
    assert body["count"] == 4 and body["count_exact"] is True and body["facets_sampled"]
    assert body["next"] and client.get(body["next"]).json()["next"] is None
    ranked = client.get(f"{API}/search?q=bulk&sort=relevance&page_size=3").json()
    assert (ranked["count"], ranked["count_exact"]) == (4, True)
    ranked_ids = [a["id"] for a in ranked["results"]]
    ranked_ids += [a["id"] for a in client.get(ranked["next"]).json()["results"]]
    assert sorted(ranked_ids) == sorted(a.pk for a in extra)
    # Someone who sees few assets has every match read: an exact count past the limit.
    viewer = world["viewer"]
    mine = search_module.find(viewer, search_module.Params(tags=["bulk"]))
    assert (mine.count, mine.exact) == (4, True)
    assert [a.pk for a in mine.rows] == [a.pk for a in reversed(extra)]
    monkeypatch.setattr(search_module, "SMALL_LIBRARY", 0)  # as if they saw a big library
    big = search_module.find(fresh_user(viewer), search_module.Params(tags=["bulk"]))
    assert (big.count, big.exact) == (3, False)
    assert [a.pk for a in big.rows] == [a.pk for a in reversed(extra)]  # same order
    monkeypatch.setattr(search_module, "COUNT_LIMIT", 10)
    monkeypatch.setattr(search_module, "FACET_SAMPLE", 10)
    body = client.get(f"{API}/search?tags=bulk&page_size=3").json()
    assert body["count"] == 4 and body["count_exact"] is True and not body["facets_sampled"]
    assert body["facets"]["format"] == {"jpg": 3, "png": 1}
    assert body["next"] and client.get(body["next"]).json()["next"] is None


@pytest.mark.parametrize(
    "query",
    [
        "expression=(tags:a",
        "expression=colour:red",
        "expression=" + "(" * 40 + "a" + ")" * 40,
        "expression=" + "a%20" * 200,
        "expression=" + "x" * 2001,
        "expression=tags:a%00b",
    ],
)
def test_api_mistakes_and_hostile_input_are_400_or_422_never_500(client, world, query):
    client.force_login(world["admin"])
    response = client.get(f"{API}/search?{query}")
    assert response.status_code in (400, 422), response.content
    body = response.json()
    assert body["detail"]
    if response.status_code == 400:
        assert body["code"] == "syntax_error" and isinstance(body["position"], int)


def test_a_search_past_the_time_limit_is_stopped_with_a_clear_answer(world):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]
    with (
        pytest.raises(search_module.SearchTooSlow) as info,
        search_module.bounded(100),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT pg_sleep(0.5)")
    assert "took longer than 0.1 seconds" in info.value.message
    assert info.value.code == "search_timeout" and info.value.status == 400
    # Nested: each puts back what it found.
    with search_module.bounded(7000), connection.cursor() as cursor:
        with search_module.bounded(3000):
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "3s"
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "7s"
    # A quick one runs, and the limit is put back after.
    with search_module.bounded(5000), connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "5s"
    with connection.cursor() as cursor:  # the caller's transaction goes on, as it was
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == before
    assert ids(world["admin"], q="kitten") == {world["cat"].pk, world["hidden"].pk}


@pytest.mark.parametrize(
    ("text", "is_query"),
    [
        ("tags:kitten", True),
        ("kitten AND night", True),
        ("NOT draft", True),
        ("metadata.region=emea", True),
        ("width>100 sofa", True),
        ("kitten sofa", False),
        ("Re: budget", False),  # not a field
        ("photo:1", False),
        ("kitten and sofa", False),  # operators are upper case
        ('"summer campaign', False),  # an unclosed quote: words
        ("Portland OR", False),  # an operator with nothing after it: words
        ("kitten OR", False),
        ("NOT FOR SALE", False),  # capitals: a heading, not a query
        ("tags:(kitten OR night)", True),  # a field's term gone wrong: shown as a mistake
        ("created_at>", True),
        ('tags:kitten "draft', True),
        ("", False),
    ],
)
def test_a_search_box_holds_the_query_language_or_words(text, is_query):
    assert search_module.box_is_query(text) is is_query


def test_suggestions_are_the_best_visible_matches_of_what_is_typed(world):
    admin, viewer = world["admin"], world["viewer"]

    def names(user, text: str) -> list[str]:
        return [a.display_name for a in search_module.suggestions(user, text) or []]

    assert set(names(admin, "kit")) == {"kitten-on-sofa", "secret-kitten"}  # a prefix
    assert names(viewer, "kit") == ["kitten-on-sofa"]  # never one the viewer cannot see
    assert names(fresh_user(UserFactory()), "kit") == []  # no grants: nothing
    assert names(admin, "k") == [] and names(admin, "  ") == [] and names(admin, "%_") == []
    assert search_module.suggestions(admin, "k") is None  # nothing asked yet
    for i in range(8):
        make_asset(world["brand"], actor=admin, name=f"kitten-{i}.jpg", tags=["kitten"])
    assert len(names(viewer, "kitten")) == search_module.SUGGEST_LIMIT
    assert names(viewer, "kitten sofa") == ["kitten-on-sofa"]


def test_api_a_search_past_the_time_limit_is_400_search_timeout(client, world, monkeypatch):
    from dam.testing import slow_searches

    client.force_login(world["admin"])
    slow_searches(monkeypatch)
    response = client.get(f"{API}/search", {"q": "kitten", "exact_count": "false"})
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "search_timeout"
    assert body["detail"].startswith("This search took longer than 0.1 seconds and was stopped.")
    monkeypatch.undo()  # the same search within the limit answers
    assert client.get(f"{API}/search", {"q": "kitten"}).json()["count"] == 2


@pytest.mark.parametrize(
    "text",
    ["'; DROP TABLE assets_asset; --", "a:*", "!(&|)", "日本語", "🎉" * 50, "\\", "%_"],
)
def test_odd_text_is_just_text(client, world, text):
    client.force_login(world["admin"])
    response = client.get(f"{API}/search", {"q": text})
    assert response.status_code == 200
    assert Asset.objects.count() == 3


def test_list_metadata_facets_count_only_visible_assets(world):
    services.asset_update(
        actor=world["admin"], asset=world["hidden"], metadata={"category": "customer"}
    )
    admin_facets = search_module.facets(
        search_module.search(world["admin"], search_module.Params())
    )
    assert admin_facets["metadata.category"] == {"employee": 1, "customer": 1}
    assert admin_facets["metadata.team"] == {"sales": 1}
    viewer_facets = search_module.facets(
        search_module.search(world["viewer"], search_module.Params())
    )
    assert viewer_facets["metadata.category"] == {"employee": 1}


PIECES = [*'ab:=<>!-()"\\ .7dMB_', "AND ", "OR ", "NOT ", "tags", "metadata.", "category",
          "context.", "width", "bytes", "created_at", "folder", "type", "image", "2026-01-01",
          "employee", "uploader", "format", "é", "日"]  # fmt: skip


def test_random_expressions_run_or_fail_cleanly(world):
    """Any mix of the language's pieces either runs (results and facets) or is a syntax
    error with a position: never anything else."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from assets.search_query import QuerySyntaxError

    @settings(max_examples=300, deadline=None, derandomize=True, database=None)
    @given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=25))
    def check(pieces):
        expression = "".join(pieces)
        try:
            rows = search_module.search(world["admin"], search_module.Params(expression=expression))
            list(rows[:5])
            search_module.facets(rows)
        except QuerySyntaxError as exc:
            assert 0 <= exc.position <= len(expression)

    check()


def test_no_access_odd_words_and_full_counts_never_500(client, world, monkeypatch):
    """Someone who sees nothing, words PostgreSQL splits or refuses, and exact_count."""
    nobody = UserFactory()
    client.force_login(nobody)
    for query in ("", "?q=kitten", "?expression=tags:kitten", "?sort=relevance&q=kit"):
        response = client.get(f"{API}/search{query}")
        assert response.status_code == 200, query
        assert response.json()["count"] == 0 and response.json()["results"] == []
    admin, brand = world["admin"], world["brand"]
    shot = make_asset(brand, actor=admin, name="IMG_1234.jpg", tags=["summer_sale"])
    client.force_login(admin)
    for q in ("img_1234", "IMG_1234.jpg", "summer_sale", "summer_s"):
        assert [a["id"] for a in client.get(f"{API}/search", {"q": q}).json()["results"]] == [
            shot.pk
        ], q
    long_word = "é" * 1100  # more than PostgreSQL takes in a tsquery: left out
    for params in ({"expression": long_word}, {"q": "é" * 490}, {"q": "kitten " + "ß" * 400}):
        assert client.get(f"{API}/search", params).status_code == 200
    no_hash = make_asset(brand, actor=admin, name="flat.jpg")
    Asset.objects.filter(pk=no_hash.pk).update(phash="")
    assert client.get(f"{API}/search", {"similar": no_hash.pk}).json()["count"] == 0
    monkeypatch.setattr(search_module, "COUNT_LIMIT", 1)
    bounded = client.get(f"{API}/search", {"q": "kitten", "exact_count": "false"}).json()
    assert (bounded["count"], bounded["count_exact"]) == (1, False)
    full = client.get(f"{API}/search", {"q": "kitten"}).json()
    assert (full["count"], full["count_exact"]) == (2, True)
