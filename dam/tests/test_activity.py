"""The activity report (page, CSV, API) and an asset's History: filters against known
data, the verb groups, who may see what, bad input, and bounded queries."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.models import Role, UserStatus
from accounts.policy import CollectionLevel
from assets import collection_services
from dam import activity
from dam.models import AuditEvent
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1/activity"


def _event(verb, *, actor=None, object_type="", object_id="", data=None, at=None, ip=None):
    event = AuditEvent.objects.create(
        actor=actor,
        verb=verb,
        object_type=object_type,
        object_id=str(object_id),
        data=data or {},
        ip=ip,
    )
    if at is not None:
        AuditEvent.objects.filter(pk=event.pk).update(at=at)
        event.refresh_from_db()
    return event


def _bearer(user) -> dict:
    _token, raw = account_services.api_token_create(user=user, name="t")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def world():
    """Known events: Ann (active) uploads and edits metadata; Ivan (inactive) logs in and
    shares; a system moderation decision; dates spread over 2025."""
    AuditEvent.objects.all().delete()
    admin = AdminFactory(first_name="Ada", last_name="Admin")
    ann = UserFactory(first_name="Ann", last_name="Uploader")
    ivan = UserFactory(first_name="Ivan", last_name="Gone", status=UserStatus.INACTIVE)
    e = {
        "upload": _event(
            "asset.upload",
            actor=ann,
            object_type="assets.asset",
            object_id=101,
            at=datetime(2025, 1, 10, 9, tzinfo=UTC),
            ip="10.0.0.5",
        ),
        "meta": _event(
            "asset.update",
            actor=ann,
            object_type="assets.asset",
            object_id=101,
            data={"before": {"metadata": {}}, "after": {"metadata": {"region": "emea"}}},
            at=datetime(2025, 2, 1, 12, tzinfo=UTC),
        ),
        "tags": _event(
            "asset.update",
            actor=ann,
            object_type="assets.asset",
            object_id=102,
            data={"before": {"tags": []}, "after": {"tags": ["a"]}},
            at=datetime(2025, 2, 2, 12, tzinfo=UTC),
        ),
        "login": _event(
            "user.login",
            actor=ivan,
            object_type="accounts.user",
            object_id=ivan.pk,
            at=datetime(2025, 3, 1, 8, tzinfo=UTC),
            ip="192.0.2.7",
        ),
        "share": _event(
            "folder.share",
            actor=ivan,
            object_type="assets.folder",
            object_id=7,
            data={"principal": {"type": "group", "id": 1}, "level": "view"},
            at=datetime(2025, 3, 2, 8, tzinfo=UTC),
        ),
        "auto": _event(
            "asset.moderation.auto",
            object_type="assets.asset",
            object_id=101,
            data={"verdict": "approve"},
            at=datetime(2025, 4, 1, tzinfo=UTC),
        ),
    }
    return {"admin": admin, "ann": ann, "ivan": ivan, "events": e}


def _ids(qs):
    return [x.pk for x in qs]


# -- filters ------------------------------------------------------------------------
def test_each_filter_against_known_data(world):
    e = world["events"]

    def found(**raw):
        f = activity.filters_from(raw)
        assert not f.errors, f.errors
        return _ids(activity.events(f))

    every = found()
    assert every == [
        e[k].pk for k in ("auto", "share", "login", "tags", "meta", "upload")
    ]  # newest first
    assert found(user=str(world["ann"].pk)) == [e["tags"].pk, e["meta"].pk, e["upload"].pk]
    assert found(user=str(world["ivan"].pk)) == [e["share"].pk, e["login"].pk]  # inactive
    assert found(actor=str(world["ivan"].pk)) == [e["share"].pk, e["login"].pk]
    assert found(verb="asset.upload") == [e["upload"].pk]
    assert found(group="uploads") == [e["upload"].pk]
    assert found(group="metadata") == [e["meta"].pk]  # only the metadata edit
    assert found(group="edits") == [e["tags"].pk, e["meta"].pk]
    assert found(group="logins") == [e["login"].pk]
    assert found(group="shares") == [e["share"].pk]
    assert found(group="moderation") == [e["auto"].pk]
    assert found(action="moderation") == [e["auto"].pk]  # the page's single picker
    assert found(action="user.login") == [e["login"].pk]
    assert found(object_type="assets.asset") == [
        e["auto"].pk,
        e["tags"].pk,
        e["meta"].pk,
        e["upload"].pk,
    ]
    assert found(object_type="assets.asset", object_id="101") == [
        e["auto"].pk,
        e["meta"].pk,
        e["upload"].pk,
    ]
    assert found(since="2025-02-01", until="2025-03-01") == [
        e["login"].pk,
        e["tags"].pk,
        e["meta"].pk,
    ]  # until includes its whole day
    assert found(since="2025-02-01T12:00:00Z", until="2025-02-02T11:59:59") == [e["meta"].pk]
    assert found(user=str(world["ann"].pk), group="edits", since="2025-02-02") == [e["tags"].pk]


def test_every_recorded_verb_has_a_label_and_a_group():
    """The one mapping covers every verb the code records (literal or f-string)."""
    verbs = set()
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts or "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        verbs |= set(re.findall(r'verb="([a-z_]+(?:\.[a-z_]+)+)"', text))
        verbs |= set(re.findall(r'verb = "([a-z_]+(?:\.[a-z_]+)+)"', text))
        verbs |= set(re.findall(r'"(automation\.rule_[a-z]+)"', text))
    verbs |= {"asset.moderation.approve", "asset.moderation.reject"}  # f"asset.moderation.{x}"
    assert len(verbs) > 60
    missing = sorted(verbs - set(activity.VERBS))
    assert not missing, f"add these verbs to dam.activity.VERBS: {missing}"
    for verb in activity.VERBS:
        assert activity.verb_group(verb) != "Other"
        assert activity.verb_label(verb) != verb


def test_groups_have_human_labels_and_their_verbs():
    labels = {g.label for g in activity.GROUPS.values()}
    assert {
        "Uploads",
        "Edits",
        "Metadata changes",
        "Shares",
        "Downloads",
        "Moderation decisions",
        "Logins",
        "User lifecycle",
        "Deletes and restores",
    } <= labels
    assert "asset.upload" in activity.GROUPS["uploads"].verbs
    assert "asset.moderation.reject" in activity.GROUPS["moderation"].verbs
    assert "user.delete" in activity.GROUPS["users"].verbs
    assert "asset.restore" in activity.GROUPS["deletes"].verbs
    assert "user.login" in activity.GROUPS["logins"].verbs


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2025-02-30"}, "until"),
        ({"since": "0001-01-01"}, "since"),
        ({"until": "99999-01-01"}, "until"),
        ({"since": "2025-03-01", "until": "2025-02-01"}, "until"),
        ({"verb": "asset.explode"}, "verb"),
        ({"group": "everything"}, "group"),
        ({"action": "nope"}, "action"),
        ({"user": "abc"}, "user"),
        ({"user": "-3"}, "user"),
        ({"user": "9" * 40}, "user"),
        ({"user": "1\x00"}, "user"),
        ({"verb": "user.login\x00"}, "verb"),
        ({"object_type": "assets.nothing"}, "object_type"),
        ({"object_type": "assets.asset", "object_id": "abc"}, "object_id"),
        ({"object_type": "assets.asset", "object_id": "9" * 30}, "object_id"),
        ({"object_id": "4"}, "object_id"),
        ({"object_type": "x" * 5000}, "object_type"),
        ({"since": "2" * 5000}, "since"),
    ],
)
def test_bad_filters_are_named(raw, field):
    f = activity.filters_from(raw)
    assert field in f.errors and f.errors[field].endswith(".")
    assert list(activity.events(f)) == []


# -- the page -------------------------------------------------------------------------
@pytest.mark.parametrize("role", [Role.MEDIA_LIBRARY_USER, Role.BILLING])
def test_page_and_export_are_404_for_roles_without_activity(client, role):
    client.force_login(UserFactory(role=role))
    assert client.get(reverse("activity")).status_code == 404
    assert client.get(reverse("activity_csv")).status_code == 404


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MASTER_ADMIN, Role.REPORTS])
def test_page_shows_rows_to_admins_and_reports(client, world, role):
    client.force_login(UserFactory(role=role))
    response = client.get(reverse("activity"), {"user": world["ivan"].pk})
    assert response.status_code == 200
    html = response.content.decode()
    assert "2 events" in html
    assert "Ivan Gone" in html and "Inactive" in html
    assert "Logged in" in html and "192.0.2.7" in html
    assert "Shared folder with a group at view" in html
    assert "Uploaded" not in html.split("<tbody>")[1]


def test_page_nav_and_bad_filters(client, world):
    client.force_login(world["admin"])
    html = client.get(reverse("activity")).content.decode()
    assert 'href="/activity/"' in html and ">Activity<" in html  # the left navigation
    assert "(inactive)" in html  # the user picker labels inactive users
    response = client.get(reverse("activity"), {"since": "31/12/2025", "object_id": "x"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Use a date like 2026-03-31" in html
    assert "Choose the object type too." in html
    assert "No events" in html
    client.force_login(UserFactory(role=Role.MEDIA_LIBRARY_USER))
    assert ">Activity<" not in client.get("/collections/").content.decode()


def test_page_counts_at_most_the_limit(client, world, monkeypatch):
    monkeypatch.setattr(activity, "COUNT_LIMIT", 3)
    client.force_login(world["admin"])
    html = client.get(reverse("activity"), {"page_size": 25}).content.decode()
    assert "More than 3 events" in html
    html = client.get(reverse("activity"), {"group": "shares"}).content.decode()
    assert "1 event<" in html


def test_paging_previous_next(client, world):
    client.force_login(world["admin"])
    for _i in range(30):
        _event("user.login", actor=world["ann"], object_type="accounts.user", object_id=1)
    first = client.get(reverse("activity"), {"page_size": 25}).content.decode()
    assert "Next</a>" in first and "Previous</a>" not in first
    second = client.get(reverse("activity"), {"page_size": 25, "page": 2}).content.decode()
    assert "Previous</a>" in second and "Next</a>" not in second
    assert client.get(reverse("activity"), {"page": "9" * 50}).status_code == 200


def test_page_queries_do_not_grow_with_page_size(client, world, django_assert_max_num_queries):
    admin = world["admin"]
    folder = make_folder("/Q", actor=admin)
    for i in range(12):
        make_asset(folder, actor=admin, name=f"q{i}.jpg")
    client.force_login(admin)
    client.get(reverse("activity"))  # warm caches
    with django_assert_max_num_queries(14) as small:
        assert client.get(reverse("activity"), {"page_size": 25}).status_code == 200
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert client.get(reverse("activity"), {"page_size": 200}).status_code == 200


def test_objects_link_when_they_exist_and_say_when_deleted(client, world):
    admin = world["admin"]
    folder = make_folder("/Linked", actor=admin)
    asset = make_asset(folder, actor=admin, name="alive.jpg")
    client.force_login(admin)
    html = client.get(reverse("activity"), {"object_type": "assets.asset"}).content.decode()
    assert f'href="/assets/{asset.pk}/"' in html and "alive" in html
    assert "Asset #101" in html and "Deleted" in html  # never existed here: no link
    assert 'href="/assets/101/"' not in html
    reports = UserFactory(role=Role.REPORTS)
    client.force_login(reports)
    html = client.get(reverse("activity"), {"object_type": "assets.asset"}).content.decode()
    assert "alive" in html and f'href="/assets/{asset.pk}/"' not in html  # no library


def test_settings_objects_are_named_and_only_gone_ones_say_so(client, world):
    from assets import delivery_services
    from assets import search as search_module
    from assets import services as asset_services
    from metadata import services as metadata_services

    admin = world["admin"]
    preset = asset_services.preset_create(actor=admin, name="review")
    delivery_services.preset_create(actor=admin, name="card", transformation="w_200")
    field = metadata_services.field_create(actor=admin, label="Shoot code", type="string")
    gone = metadata_services.field_create(actor=admin, label="Old code", type="string")
    metadata_services.field_delete(actor=admin, field=gone)
    token, _raw = account_services.api_token_create(user=admin, name="CI deploy")
    account_services.api_token_revoke(user=admin, token=token)
    search_module.saved_search_create(actor=admin, name="Kittens", query="q=kitten")
    client.force_login(admin)
    page = client.get(reverse("activity"), {"page_size": 200}).content.decode()
    rows = {
        label: re.search(rf"{re.escape(label)}.{{0,200}}", page, re.S).group(0)
        for label in ("review", "t_card", "Shoot code", "Old code", "CI deploy", "Kittens")
    }
    assert f'href="/settings/upload-presets/{preset.name}/edit/"' in page
    assert f'href="/settings/metadata/fields/{field.external_id}/"' in page
    assert "Deleted" not in rows["review"] + rows["t_card"] + rows["Shoot code"] + rows["Kittens"]
    assert "Deleted" in rows["Old code"] and "Revoked" in rows["CI deploy"]
    assert "Upload preset #" not in page and "Metadata field #" not in page
    assert "API token #" not in page and "Saved search #" not in page
    assert f"CI deploy ({token.prefix}…)" in page
    client.force_login(UserFactory(role=Role.REPORTS))  # the report, without the key's start
    page = client.get(reverse("activity"), {"page_size": 200}).content.decode()
    assert "CI deploy" in page and token.prefix not in page
    assert 'href="/settings/upload-presets/' not in page  # no links to pages they can't open


def test_a_share_names_whom_it_was_given_to(client, world):
    from dam.testing import GroupFactory

    admin = world["admin"]
    designers = GroupFactory(name="Designers")
    principals = [
        {"type": "group", "id": designers.pk},
        {"type": "user", "id": world["ann"].pk},
        {"type": "group", "id": 2**30},  # a group since deleted
    ]
    for principal in principals:
        data = {"principal": principal, "level": "edit"}
        _event("folder.share", actor=admin, object_type="assets.folder", object_id=8, data=data)
    client.force_login(admin)
    query = {"object_type": "assets.folder", "object_id": "8"}
    html = client.get(reverse("activity"), query).content.decode()
    assert "Shared folder with the group Designers at edit" in html
    assert "Shared folder with the user Ann Uploader at edit" in html
    assert "Shared folder with a group at edit" in html


# -- CSV --------------------------------------------------------------------------------
def _csv(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_export_of_a_filtered_view(client, world, monkeypatch):
    monkeypatch.setattr(activity, "CSV_CHUNK", 2)  # several chunks
    client.force_login(world["admin"])
    rows = _csv(client.get(reverse("activity_csv"), {"user": world["ann"].pk}))
    assert [r["verb"] for r in rows] == ["asset.update", "asset.update", "asset.upload"]
    assert [r["action"] for r in rows] == ["Changed tags", "Changed metadata", "Uploaded"]
    assert {r["actor_email"] for r in rows} == {world["ann"].email}
    assert rows[2]["time_utc"] == "2025-01-10T09:00:00+00:00"
    assert rows[2]["ip"] == "10.0.0.5" and rows[2]["object_id"] == "101"
    assert rows[1]["group"] == "Edits"
    rows = _csv(client.get(reverse("activity_csv"), {"group": "logins", "until": "2025-12-31"}))
    assert len(rows) == 1 and rows[0]["actor_inactive"] == "yes"
    assert list(rows[0]) == activity.CSV_HEADER
    assert client.get(reverse("activity_csv"), {"since": "bad"}).status_code == 400


def test_csv_stops_at_its_cap(world):
    lines = "".join(activity.csv_lines(activity.filters_from({}), world["admin"], limit=4))
    rows = list(csv.reader(io.StringIO(lines)))
    assert rows[0] == activity.CSV_HEADER
    assert len(rows) == 6 and rows[-1][0].startswith("# stopped at 4 rows")
    lines = "".join(activity.csv_lines(activity.filters_from({}), world["admin"], limit=6))
    assert len(list(csv.reader(io.StringIO(lines)))) == 7  # exactly all: no note


def test_csv_cells_never_become_formulas(world):
    _event("asset.update", actor=world["ann"], object_type="assets.asset", object_id="=1+1")
    text = "".join(activity.csv_lines(activity.filters_from({}), world["admin"]))
    assert ",'=1+1," in text


# -- API --------------------------------------------------------------------------------
def test_api_list_shape_and_filters(client, world):
    headers = _bearer(world["admin"])  # audited itself: now, outside 2025
    body = client.get(API, **headers).json()
    assert set(body) >= {"count", "next", "previous", "results"}
    assert body["count"] == AuditEvent.objects.count() and body["count_exact"] is True
    body = client.get(API, {"until": "2025-12-31"}, **headers).json()
    assert body["count"] == 6
    first = body["results"][0]
    assert {"actor", "verb", "object_type", "object_id", "data", "ip", "at"} <= set(first)
    assert first["verb"] == "asset.moderation.auto" and first["actor"] is None
    ivan = world["ivan"]
    body = client.get(API, {"user": ivan.pk, "group": "logins"}, **headers).json()
    assert [r["verb"] for r in body["results"]] == ["user.login"]
    assert body["results"][0]["actor_inactive"] is True
    assert body["results"][0]["ip"] == "192.0.2.7"
    body = client.get(API, {"actor": ivan.pk}, **headers).json()
    assert body["count"] == 2
    body = client.get(
        API, {"object_type": "assets.asset", "object_id": "101", "verb": "asset.update"}, **headers
    ).json()
    assert body["count"] == 1 and body["results"][0]["data"]["after"]["metadata"]
    body = client.get(API, {"since": "2025-03-01", "until": "2025-03-01"}, **headers).json()
    assert [r["verb"] for r in body["results"]] == ["user.login"]
    page = client.get(API, {"page_size": 2, "until": "2025-12-31"}, **headers).json()
    assert len(page["results"]) == 2 and page["next"] and page["previous"] is None
    second = client.get(page["next"], **headers).json()
    assert second["previous"] and second["results"][0]["id"] != page["results"][0]["id"]
    bounded = client.get(API, {"exact_count": "false", "until": "2025-12-31"}, **headers).json()
    assert bounded["count"] == 6 and bounded["count_exact"] is True


@pytest.mark.parametrize("role", [Role.MEDIA_LIBRARY_USER, Role.BILLING])
def test_api_is_403_for_roles_without_activity(client, role):
    response = client.get(API, **_bearer(UserFactory(role=role)))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert client.get(API).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "not-a-date"}, "since"),
        ({"until": "10000-01-01"}, "until"),
        ({"verb": "asset.nope"}, "verb"),
        ({"group": "nope"}, "group"),
        ({"user": "abc"}, "user"),
        ({"user": "1" * 100}, "user"),
        ({"object_type": "assets.asset", "object_id": "12a"}, "object_id"),
        ({"verb": "a\x00b"}, "verb"),
        ({"object_type": "\x00"}, "object_type"),
    ],
)
def test_api_bad_filters_are_422_naming_the_field(client, params, field):
    response = client.get(API, params, **_bearer(AdminFactory()))
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "validation_error" and field in body["errors"]


def test_api_bad_paging_is_422_never_500(client):
    headers = _bearer(AdminFactory())
    for params in ({"page": "0"}, {"page_size": "500"}, {"page": "x"}, {"page": "9" * 30}):
        assert client.get(API, params, **headers).status_code == 422


# -- an asset's History -------------------------------------------------------------------
def test_asset_history_lists_its_events_for_viewers_only(client):
    admin = AdminFactory()
    shown = make_folder("/Shown", actor=admin)
    hidden = make_folder("/Hidden", actor=admin)
    asset = make_asset(shown, actor=admin, name="hist.jpg")
    secret = make_asset(hidden, actor=admin, name="secret.jpg")
    make_asset(shown, actor=admin, name="other.jpg")
    collection = collection_services.collection_create(actor=admin, name="Spring picks")
    added = collection_services.collection_add(actor=admin, collection=collection, ids=[asset.pk])
    assert added["added"] == [asset.pk], added
    viewer = UserFactory(first_name="Vic")
    grant(viewer, shown, "view")
    client.force_login(viewer)

    assert client.get(reverse("asset_history", args=[secret.pk])).status_code == 404
    assert client.get(reverse("asset_history", args=[999_999_999])).status_code == 404
    response = client.get(reverse("asset_history", args=[asset.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Uploaded" in html
    assert "Added to a collection" in html and "Spring picks" not in html  # not shared
    assert "Open in the activity report" not in html  # a library user: no IPs, no report
    assert "other.jpg" not in html

    client.force_login(admin)
    html = client.get(reverse("asset_history", args=[asset.pk])).content.decode()
    assert "Added to collection “Spring picks”" in html
    assert "Open in the activity report" in html
    page = client.get(reverse("assets:detail", args=[asset.pk])).content.decode()
    assert f'hx-get="/assets/{asset.pk}/history/"' in page


def test_asset_history_is_closed_to_collection_only_viewers(client):
    admin = AdminFactory()
    folder = make_folder("/Col", actor=admin)
    asset = make_asset(folder, actor=admin, name="col.jpg")
    outsider = UserFactory()
    collection = collection_services.collection_create(actor=admin, name="Shared")
    collection_services.collection_add(actor=admin, collection=collection, ids=[asset.pk])
    collection_services.collection_share(
        actor=admin, collection=collection, principal=outsider, level=CollectionLevel.VIEW
    )
    client.force_login(outsider)
    page = client.get(reverse("assets:detail", args=[asset.pk]))
    assert page.status_code == 200 and "asset_history" not in page.content.decode()
    assert f"/assets/{asset.pk}/history/" not in page.content.decode()
    assert client.get(reverse("asset_history", args=[asset.pk])).status_code in (403, 404)
    client.force_login(UserFactory(role=Role.REPORTS))
    assert client.get(reverse("asset_history", args=[asset.pk])).status_code == 404


def test_user_delete_keeps_attribution_in_the_report(client):
    admin = AdminFactory()
    leaver = UserFactory(first_name="Lee", last_name="Leaver")
    folder = make_folder("/Leave", actor=admin)
    make_asset(folder, actor=leaver if False else admin, name="x.jpg")
    _event("asset.comment", actor=leaver, object_type="assets.asset", object_id=1)
    account_services.user_delete(actor=admin, user=leaver)
    client.force_login(admin)
    html = client.get(reverse("activity"), {"user": leaver.pk}).content.decode()
    assert "Lee Leaver" in html and "Inactive" in html and "Commented" in html
    deleted = client.get(reverse("activity"), {"group": "users"}).content.decode()
    assert "Deleted user (now inactive)" in deleted


# -- the user picker ----------------------------------------------------------------------
def test_a_user_is_chosen_by_id_email_or_suggestion(world):
    ann, ivan = world["ann"], world["ivan"]
    assert activity.filters_from({"user": ann.email.upper()}).actor == ann.pk
    assert activity.filters_from({"user": f"Ivan Gone <{ivan.email}> #{ivan.pk}"}).actor == (
        ivan.pk
    )
    assert activity.filters_from({"actor": str(ivan.pk)}).actor == ivan.pk
    for bad in ("nobody@example.com", "a@b\x00", "x@" + "y" * 5000):
        f = activity.filters_from({"user": bad})
        assert f.errors["user"] == "No user has that email address.", bad
    for huge in ("9" * 5000, "1" * 20):  # never int() of thousands of digits
        assert "user" in activity.filters_from({"user": huge}).errors
    # An inactive user's email taken again: ambiguous, so the suggestions decide.
    UserFactory(email=ivan.email)
    twice = activity.filters_from({"user": ivan.email})
    assert twice.actor is None and "More than one user" in twice.errors["user"]
    assert activity.user_tag(ann) == f"Ann Uploader <{ann.email}> #{ann.pk}"


def test_many_users_get_a_typed_picker_with_suggestions(client, world, monkeypatch):
    ann, ivan = world["ann"], world["ivan"]
    client.force_login(world["admin"])
    html = client.get(reverse("activity")).content.decode()
    assert '<select id="activity-user"' in html  # few users: the whole list
    monkeypatch.setattr(activity, "USER_LIST_MAX", 2)
    html = client.get(reverse("activity")).content.decode()
    assert '<select id="activity-user"' not in html
    assert 'list="activity-user-options"' in html and "inactive users included" in html
    page = client.get(reverse("activity"), {"user": ann.email})
    assert [r.actor_id for r in page.context["rows"]] == [ann.pk] * 3
    assert f'value="Ann Uploader &lt;{ann.email}&gt; #{ann.pk}"' in page.content.decode()
    wrong = client.get(reverse("activity"), {"user": "nobody@example.com"})
    assert "No user has that email address." in wrong.content.decode()
    assert 'value="nobody@example.com"' in wrong.content.decode()

    found = client.get(reverse("activity_users"), {"user": "iv"}).content.decode()
    assert f"Ivan Gone &lt;{ivan.email}&gt; #{ivan.pk}" in found and "Inactive" in found
    assert "Ann" not in found
    full = client.get(reverse("activity_users"), {"user": "Ivan  g"}).content.decode()
    assert f"#{ivan.pk}" in full  # the name as shown: each word starts a field
    assert "#" not in client.get(reverse("activity_users"), {"user": "ivan x"}).content.decode()
    by_email = client.get(reverse("activity_users"), {"user": ann.email[:6]}).content.decode()
    assert f"#{ann.pk}" in by_email
    for hostile in ("", "\x00", "%", "x" * 5000, "' OR 1=1 --"):
        response = client.get(reverse("activity_users"), {"user": hostile})
        assert response.status_code == 200 and "#" not in response.content.decode(), hostile
    client.force_login(UserFactory())  # a media library user
    assert client.get(reverse("activity_users"), {"user": "iv"}).status_code == 404


def test_api_filters_by_email_too(client, world):
    ann = world["ann"]
    response = client.get(API, {"user": ann.email}, **_bearer(world["admin"]))
    assert response.status_code == 200
    assert {r["actor"] for r in response.json()["results"]} == {ann.pk}
    missing = client.get(API, {"user": "nobody@example.com"}, **_bearer(world["admin"]))
    assert missing.status_code == 422
