"""Automation rules: triggers (with an explicit "today"), actions, pause, sweeps that act
once however often or concurrently they run, bad input as field errors, and the pages
and API for admins only."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import psycopg
import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from assets import automation, collection_services
from assets.models import (
    AccessMode,
    Asset,
    AutomationRule,
    AutomationRun,
    AutomationRunItem,
    AutomationRunStatus,
    CollectionItem,
)
from dam.errors import ValidationFailed
from dam.models import AuditEvent, Notification
from dam.testing import AdminFactory, GroupFactory, UserFactory, grant, make_asset, make_folder
from metadata import services as metadata_services

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 10)
API = "/api/v1"


@pytest.fixture
def admin():
    return AdminFactory()


@pytest.fixture
def expiry(admin):
    metadata_services.field_create(
        actor=admin, label="License expiry", type="date", external_id="license_expiry"
    )
    metadata_services.field_create(
        actor=admin, label="Caption", type="string", external_id="caption"
    )


@pytest.fixture
def folder(admin):
    return make_folder("/Brand", actor=admin)


def asset_due(folder, admin, when: date | None, name="photo.jpg", **kwargs):
    metadata = {"license_expiry": when.isoformat()} if when else {}
    return make_asset(folder, actor=admin, name=name, metadata=metadata, **kwargs)


def date_rule(admin, days=7, actions=None, **kwargs):
    return automation.automation_rule_create(
        actor=admin,
        name=kwargs.pop("name", "Expiring"),
        trigger="date_reached",
        date_field="license_expiry",
        days_ahead=days,
        actions=actions or [{"type": "restrict"}, {"type": "add_tags", "tags": ["expiring"]}],
        **kwargs,
    )


def sweep(capture, today=TODAY, now=None):
    with capture(execute=True):
        return automation.automation_sweep(today=today, now=now or timezone.now())


def refreshed(asset) -> Asset:
    return Asset.all_objects.get(pk=asset.pk)


# -- triggers -----------------------------------------------------------------------------
def test_date_rule_acts_on_today_past_and_n_days_ahead_only(
    admin, expiry, folder, django_capture_on_commit_callbacks
):
    past = asset_due(folder, admin, TODAY - timedelta(days=30), name="past.jpg")
    today = asset_due(folder, admin, TODAY, name="today.jpg")
    edge = asset_due(folder, admin, TODAY + timedelta(days=7), name="edge.jpg")
    later = asset_due(folder, admin, TODAY + timedelta(days=8), name="later.jpg")
    undated = asset_due(folder, admin, None, name="undated.jpg")
    rule = date_rule(admin, days=7)

    assert sweep(django_capture_on_commit_callbacks)["claimed"] == 1

    for a in (past, today, edge):
        a = refreshed(a)
        assert a.access_mode == AccessMode.RESTRICTED and "expiring" in a.tags
    for a in (later, undated):
        a = refreshed(a)
        assert a.access_mode == AccessMode.PUBLIC and "expiring" not in a.tags
    run = AutomationRun.objects.get(rule=rule)
    assert run.status == AutomationRunStatus.DONE and run.assets_done == 3
    assert run.today == TODAY
    touched = set(run.items.values_list("asset_id", flat=True))
    assert touched == {past.pk, today.pk, edge.pk}
    # Audited: by the services as the rule's admin, and once per asset naming the rule.
    updates = AuditEvent.objects.filter(verb="asset.update", object_id=str(edge.pk))
    assert updates.filter(actor=admin).count() == 2  # access mode, then tags
    act = AuditEvent.objects.get(verb="automation.act", object_id=str(edge.pk))
    assert act.data["rule"] == rule.pk and act.data["run"] == run.pk

    # The next day the 8-days-ahead asset is due; the others are not acted on again.
    sweep(django_capture_on_commit_callbacks, today=TODAY + timedelta(days=1))
    assert refreshed(later).access_mode == AccessMode.RESTRICTED
    assert AutomationRunItem.objects.filter(rule=rule).count() == 4
    assert AuditEvent.objects.filter(verb="automation.act").count() == 4


def test_days_ahead_zero_means_today_or_past(
    admin, expiry, folder, django_capture_on_commit_callbacks
):
    today = asset_due(folder, admin, TODAY, name="today.jpg")
    tomorrow = asset_due(folder, admin, TODAY + timedelta(days=1), name="tomorrow.jpg")
    date_rule(admin, days=0)
    sweep(django_capture_on_commit_callbacks)
    assert refreshed(today).access_mode == AccessMode.RESTRICTED
    assert refreshed(tomorrow).access_mode == AccessMode.PUBLIC


def test_a_new_date_is_a_new_occurrence(admin, expiry, folder, django_capture_on_commit_callbacks):
    from assets import services

    a = asset_due(folder, admin, TODAY)
    rule = date_rule(admin, days=0, actions=[{"type": "add_tags", "tags": ["expired"]}])
    sweep(django_capture_on_commit_callbacks)
    a = refreshed(a)
    services.asset_update(actor=admin, asset=a, tags=[])  # someone clears the tag
    # ... and renews the license to a date that then passes: the rule fires again.
    services.asset_update(
        actor=admin, asset=a, metadata={"license_expiry": (TODAY + timedelta(days=5)).isoformat()}
    )
    sweep(django_capture_on_commit_callbacks, today=TODAY + timedelta(days=1))
    assert refreshed(a).tags == []
    sweep(django_capture_on_commit_callbacks, today=TODAY + timedelta(days=5))
    assert refreshed(a).tags == ["expired"]
    assert AutomationRunItem.objects.filter(rule=rule, asset=a).count() == 2


def test_folder_rule_fires_once_per_asset_including_subfolders(
    admin, folder, django_capture_on_commit_callbacks
):
    from assets import services

    inbox = make_folder("/Inbox", actor=admin)
    sub = make_folder("/Inbox/Agency", actor=admin)
    elsewhere = make_asset(folder, actor=admin, name="elsewhere.jpg")
    deep = make_asset(sub, actor=admin, name="deep.jpg")
    rule = automation.automation_rule_create(
        actor=admin,
        name="Inbox",
        trigger="folder_entered",
        folder=inbox.pk,
        actions=[{"type": "add_tags", "tags": ["inbox"]}],
    )
    now = timezone.now()
    sweep(django_capture_on_commit_callbacks, now=now)
    assert refreshed(deep).tags == ["inbox"]
    assert refreshed(elsewhere).tags == []

    # An asset moved in later is caught by the next slot's sweep; the first one is not
    # touched again even after its tag was removed.
    services.asset_move(actor=admin, asset=refreshed(elsewhere), folder=inbox)
    services.asset_update(actor=admin, asset=refreshed(deep), tags=[])
    sweep(django_capture_on_commit_callbacks, now=now + timedelta(minutes=10))
    assert refreshed(elsewhere).tags == ["inbox"]
    assert refreshed(deep).tags == []
    assert AutomationRun.objects.filter(rule=rule).count() == 2


def test_upload_rule_acts_on_matching_uploads_since_the_rule(
    admin, folder, django_capture_on_commit_callbacks
):
    before = make_asset(folder, actor=admin, name="before.jpg", tags=["raw"])
    rule = automation.automation_rule_create(
        actor=admin,
        name="Raw uploads",
        trigger="upload_matches",
        expression="tags:raw AND type:image",
        actions=[{"type": "move", "folder": make_folder("/Raw", actor=admin).pk}],
    )
    match = make_asset(folder, actor=admin, name="match.jpg", tags=["raw"])
    other = make_asset(folder, actor=admin, name="other.jpg", tags=["final"])
    sweep(django_capture_on_commit_callbacks)
    assert refreshed(match).folder.path == "/Raw"
    assert refreshed(other).folder_id == folder.pk
    assert refreshed(before).folder_id == folder.pk  # uploaded before the rule
    rule.refresh_from_db()
    assert rule.checked_until is not None


# -- actions -------------------------------------------------------------------------------
def test_each_action(admin, expiry, folder, django_capture_on_commit_callbacks):
    archive = make_folder("/Archive", actor=admin)
    group = GroupFactory()
    member = UserFactory()
    member.groups.add(group)
    grant(member, archive, "view")
    outsider = UserFactory()
    outsider.groups.add(group)  # sees nothing: gets no email naming the asset
    a = asset_due(folder, admin, TODAY, tags=["old", "keep"])
    published = collection_services.collection_create(actor=admin, name="Press kit")
    private = collection_services.collection_create(actor=admin, name="Internal")
    for c in (published, private):
        collection_services.collection_add(actor=admin, collection=c, ids=[a.pk])
    collection_services.collection_publish(actor=admin, collection=published)
    rule = date_rule(
        admin,
        days=0,
        actions=[
            {"type": "trash"},  # runs last whatever the order given
            {"type": "email", "to": "group", "group": group.pk, "message": "Renew it."},
            {"type": "restrict"},
            {"type": "unpublish"},
            {"type": "move", "folder": archive.pk},
            {"type": "add_tags", "tags": ["expired"]},
            {"type": "remove_tags", "tags": ["old"]},
            {"type": "set_metadata", "values": {"caption": "License ended"}},
        ],
    )
    assert [x["type"] for x in rule.actions] == list(automation.ACTION_TYPES)
    sweep(django_capture_on_commit_callbacks)
    a = refreshed(a)
    assert a.access_mode == AccessMode.RESTRICTED
    assert a.folder_id == archive.pk
    assert a.tags == ["keep", "expired"]
    assert a.metadata["caption"] == "License ended"
    assert a.deleted_at is not None and a.deleted_by == admin
    # Out of the published collection only; the link and the other collection stay.
    assert not CollectionItem.objects.filter(collection=published, asset=a).exists()
    assert CollectionItem.objects.filter(collection=private, asset=a).exists()
    assert published.links.filter(revoked_at__isnull=True).exists()
    item = AutomationRunItem.objects.get(rule=rule)
    assert item.ok and "moved to the trash" in item.detail
    # One email to the member who may see the asset, none to the outsider.
    assert [m.to for m in mail.outbox] == [[member.email]]
    assert "Renew it." in mail.outbox[0].body and "/assets/" in mail.outbox[0].body
    assert Notification.objects.filter(user=member, kind="automation").count() == 1
    assert not Notification.objects.filter(user=outsider).exists()


def test_email_the_uploader_once_per_run(admin, expiry, folder, django_capture_on_commit_callbacks):
    uploader = UserFactory()
    grant(uploader, folder, "edit")
    asset_due(folder, uploader, TODAY, name="one.jpg")
    asset_due(folder, uploader, TODAY, name="two.jpg")
    asset_due(folder, admin, TODAY + timedelta(days=3), name="not-yet.jpg")
    date_rule(admin, days=0, actions=[{"type": "email", "to": "uploader"}])
    sweep(django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [uploader.email]
    assert "one" in mail.outbox[0].body and "two" in mail.outbox[0].body
    run = AutomationRun.objects.get()
    assert automation.automation_run_notify(run_id=run.pk) == 0  # a redelivery: no second mail


def test_a_refused_action_is_logged_on_the_item(
    admin, expiry, folder, django_capture_on_commit_callbacks
):
    a = asset_due(folder, admin, TODAY)
    rule = date_rule(admin, days=0, actions=[{"type": "move", "folder": make_folder("/X").pk}])
    from assets.models import Folder

    Folder.objects.filter(path="/X").update(deleted_at=timezone.now())  # trashed meanwhile
    sweep(django_capture_on_commit_callbacks)
    item = AutomationRunItem.objects.get(rule=rule)
    assert not item.ok and item.detail
    run = AutomationRun.objects.get(rule=rule)
    assert run.assets_failed == 1 and run.status == AutomationRunStatus.DONE
    assert refreshed(a).folder_id == folder.pk


# -- pause, idempotence, concurrency ---------------------------------------------------------
def test_a_paused_rule_does_nothing_and_catches_up_when_resumed(
    admin, expiry, folder, django_capture_on_commit_callbacks
):
    a = asset_due(folder, admin, TODAY)
    rule = date_rule(admin, days=0)
    automation.automation_rule_pause(actor=admin, rule=rule, paused=True)
    assert sweep(django_capture_on_commit_callbacks)["claimed"] == 0
    assert refreshed(a).access_mode == AccessMode.PUBLIC
    assert not AutomationRun.objects.exists()
    with pytest.raises(automation.Conflict):
        automation.automation_run_request(actor=admin, rule=rule)
    automation.automation_rule_pause(actor=admin, rule=rule, paused=False)
    sweep(django_capture_on_commit_callbacks, today=TODAY + timedelta(days=1))
    assert refreshed(a).access_mode == AccessMode.RESTRICTED


def test_rule_names_are_unique_as_the_database_compares_them(admin, expiry):
    date_rule(admin, name="istanbul")
    with pytest.raises(automation.Conflict):
        date_rule(admin, name="İstanbul")  # lower() makes them one name; upper() does not


def test_a_sweep_run_twice_acts_once(admin, expiry, folder, django_capture_on_commit_callbacks):
    a = asset_due(folder, admin, TODAY)
    rule = date_rule(admin, days=0)
    first = sweep(django_capture_on_commit_callbacks)
    second = sweep(django_capture_on_commit_callbacks)  # another beat, or a restart
    assert first == {"claimed": 1, "already": 0}
    assert second == {"claimed": 0, "already": 1}
    assert AutomationRun.objects.filter(rule=rule).count() == 1
    # A manual run of the same rule finds nothing left to do.
    with django_capture_on_commit_callbacks(execute=True):
        run = automation.automation_run_request(actor=admin, rule=rule, today=TODAY)
    run.refresh_from_db()
    assert run.status == AutomationRunStatus.DONE and run.assets_done == 0
    assert AuditEvent.objects.filter(verb="automation.act", object_id=str(a.pk)).count() == 1
    # Executing a finished run again (a redelivered task) changes nothing.
    automation.automation_run_execute(run_id=run.pk)
    assert AutomationRunItem.objects.filter(rule=rule).count() == 1


def test_a_run_while_the_rule_lock_is_held_is_skipped(admin, expiry, folder):
    a = asset_due(folder, admin, TODAY)
    rule = date_rule(admin, days=0)
    run = AutomationRun.objects.create(rule=rule, period="test", today=TODAY)
    other = psycopg.connect(**_conninfo())  # another session holds the rule's lock
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [automation.LOCK_NAMESPACE, rule.pk])
        run = automation.automation_run_execute(run_id=run.pk)
    finally:
        other.close()
    assert run.status == AutomationRunStatus.SKIPPED
    assert refreshed(a).access_mode == AccessMode.PUBLIC


def _conninfo() -> dict:
    cfg = connection.settings_dict
    info = {"dbname": cfg["NAME"], "user": cfg.get("USER") or None}
    for key, name in (("HOST", "host"), ("PORT", "port"), ("PASSWORD", "password")):
        if cfg.get(key):
            info[name] = cfg[key]
    return {k: v for k, v in info.items() if v is not None}


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_act_once_on_each_asset():
    """Two runs of one rule at once (the lock is bypassed, as if two processes got past
    it): the unique handled record lets exactly one act on each asset."""
    from django.db import connections

    admin = AdminFactory()
    metadata_services.field_create(
        actor=admin, label="License expiry", type="date", external_id="license_expiry"
    )
    folder = make_folder("/Brand", actor=admin)
    assets = [asset_due(folder, admin, TODAY, name=f"a{i}.jpg") for i in range(6)]
    rule = date_rule(admin, days=0, actions=[{"type": "add_tags", "tags": ["x"]}])
    runs = [AutomationRun.objects.create(rule=rule, period=f"p{i}", today=TODAY) for i in (1, 2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def go(run_id):
        try:
            barrier.wait()
            automation.automation_run_execute(run_id=run_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    free = _no_lock()
    try:
        threads = [threading.Thread(target=go, args=(r.pk,)) for r in runs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        free()
    assert not errors
    assert AutomationRunItem.objects.filter(rule=rule).count() == len(assets)
    done = sum(AutomationRun.objects.filter(rule=rule).values_list("assets_done", flat=True))
    assert done == len(assets)
    for a in assets:
        assert refreshed(a).tags == ["x"]
        assert AuditEvent.objects.filter(verb="automation.act", object_id=str(a.pk)).count() == 1


def _no_lock():
    from contextlib import contextmanager

    original = automation._rule_lock

    @contextmanager
    def always(rule_id):
        yield True

    automation._rule_lock = always

    def restore():
        automation._rule_lock = original

    return restore


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        ({"trigger": "upload_matches", "expression": "(tags:a"}, "expression", "character 1"),
        ({"trigger": "upload_matches", "expression": "nosuch:x"}, "expression", "Unknown field"),
        ({"trigger": "folder_entered", "folder": 999999}, "folder", "no folder"),
        ({"trigger": "date_reached", "date_field": "nope"}, "date_field", "no metadata field"),
        ({"trigger": "date_reached", "date_field": "caption"}, "date_field", "not a date"),
        (
            {"trigger": "date_reached", "date_field": "license_expiry", "days_ahead": -1},
            "days_ahead",
            "between",
        ),
        ({"trigger": "sometimes"}, "trigger", "triggers"),
    ],
)
def test_bad_rules_are_field_errors(admin, expiry, data, field, text):
    with pytest.raises(ValidationFailed) as caught:
        automation.automation_rule_create(
            actor=admin, name="R", actions=[{"type": "restrict"}], **data
        )
    assert caught.value.field == field and text in caught.value.message


@pytest.mark.parametrize(
    ("actions", "field"),
    [
        ([], "actions"),
        ([{"type": "explode"}], "actions"),
        ([{"type": "move", "folder": 999999}], "move_folder"),
        ([{"type": "add_tags", "tags": []}], "add_tags"),
        ([{"type": "set_metadata", "values": {"nope": "x"}}], "metadata"),
        ([{"type": "email", "to": "group", "group": 999999}], "email_group"),
        ([{"type": "email", "to": "everyone"}], "email_to"),
    ],
)
def test_bad_actions_are_field_errors(admin, expiry, folder, actions, field):
    with pytest.raises(ValidationFailed) as caught:
        automation.automation_rule_create(
            actor=admin, name="R", trigger="folder_entered", folder=folder.pk, actions=actions
        )
    assert caught.value.field == field


def test_only_admins_manage_rules(folder):
    user = UserFactory()
    with pytest.raises(automation.NotAllowed):
        automation.automation_rule_create(
            actor=user,
            name="R",
            trigger="folder_entered",
            folder=folder.pk,
            actions=[{"type": "restrict"}],
        )


def test_a_rule_whose_owner_lost_the_admin_role_fails_its_runs(
    admin, expiry, folder, django_capture_on_commit_callbacks
):
    from accounts.models import Role

    a = asset_due(folder, admin, TODAY)
    rule = date_rule(admin, days=0)
    admin.role = Role.MEDIA_LIBRARY_USER
    admin.save()
    sweep(django_capture_on_commit_callbacks)
    run = AutomationRun.objects.get(rule=rule)
    assert run.status == AutomationRunStatus.FAILED and "admin role" in run.message
    assert refreshed(a).access_mode == AccessMode.PUBLIC
    other = AdminFactory()
    automation.automation_rule_update(actor=other, rule=rule, days_ahead=0)
    rule.refresh_from_db()
    assert rule.run_as == other


def test_beat_runs_the_sweep():
    from dam.celery import app

    entry = app.conf.beat_schedule["automation-sweep"]
    assert entry["task"] == "assets.tasks.automation_sweep"
    assert entry["schedule"] == automation.SLOT_MINUTES * 60


# -- pages ---------------------------------------------------------------------------------
def form_data(**overrides) -> dict:
    data = {
        "name": "Expiring licenses",
        "trigger": "date_reached",
        "date_field": "license_expiry",
        "days_ahead": "7",
        "act_restrict": "on",
        "act_add_tags": "on",
        "add_tags": "expiring",
        "email_to": "uploader",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize("role", ["media_library_user", "reports", "billing"])
def test_pages_are_404_for_non_admins(client, admin, folder, role):
    rule = automation.automation_rule_create(
        actor=admin,
        name="R",
        trigger="folder_entered",
        folder=folder.pk,
        actions=[{"type": "restrict"}],
    )
    user = UserFactory(role=role)
    client.force_login(user)
    for path in (
        "/settings/automation/",
        "/settings/automation/new/",
        f"/settings/automation/{rule.pk}/",
        f"/settings/automation/{rule.pk}/edit/",
    ):
        assert client.get(path).status_code == 404, path
    for path in ("pause", "delete", "run"):
        assert client.post(f"/settings/automation/{rule.pk}/{path}/").status_code == 404
    assert AutomationRule.objects.filter(pk=rule.pk, paused_at__isnull=True).exists()
    page = client.get("/settings/upload-presets/")
    assert b"/settings/automation/" not in page.content


def test_admin_creates_edits_pauses_runs_and_deletes_a_rule(
    client, admin, expiry, folder, django_capture_on_commit_callbacks
):
    a = asset_due(folder, admin, date.today() + timedelta(days=3), name="soon.jpg")
    client.force_login(admin)
    page = client.get("/settings/automation/")
    assert page.status_code == 200 and b"No automation rules yet" in page.content
    assert b'href="/settings/automation/"' in page.content  # the Settings tab
    assert client.get("/settings/automation/new/").status_code == 200

    response = client.post("/settings/automation/new/", form_data())
    rule = AutomationRule.objects.get()
    assert (
        response.status_code == 302 and response["Location"] == f"/settings/automation/{rule.pk}/"
    )
    assert rule.actions == [{"type": "restrict"}, {"type": "add_tags", "tags": ["expiring"]}]
    listed = client.get("/settings/automation/").content.decode()
    assert "Expiring licenses" in listed and "License expiry is within 7 days" in listed

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/settings/automation/{rule.pk}/run/")
    assert response.status_code == 302
    page = client.get(f"/settings/automation/{rule.pk}/").content.decode()
    assert "soon" in page and f'href="/assets/{a.pk}/"' in page
    run = AutomationRun.objects.get(rule=rule)
    assert run.manual and run.requested_by == admin
    assert client.get(f"/settings/automation/{rule.pk}/runs/{run.pk}/").status_code == 200
    assert refreshed(a).access_mode == AccessMode.RESTRICTED

    edit = client.get(f"/settings/automation/{rule.pk}/edit/").content.decode()
    assert 'value="expiring"' in edit
    response = client.post(
        f"/settings/automation/{rule.pk}/edit/", form_data(days_ahead="1", act_restrict=None)
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.days_ahead == 1 and rule.actions == [{"type": "add_tags", "tags": ["expiring"]}]

    client.post(f"/settings/automation/{rule.pk}/pause/", {"paused": "1"})
    rule.refresh_from_db()
    assert rule.paused_at is not None
    assert "Paused" in client.get("/settings/automation/").content.decode()
    client.post(f"/settings/automation/{rule.pk}/pause/", {"paused": "0"})
    rule.refresh_from_db()
    assert rule.paused_at is None

    response = client.post(f"/settings/automation/{rule.pk}/delete/")
    assert response.status_code == 302 and not AutomationRule.objects.exists()
    assert AuditEvent.objects.filter(verb="automation.rule_delete").exists()


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        (
            {"trigger": "upload_matches", "expression": "tags:a AND (type:image"},
            "expression",
            "at character 12",
        ),
        ({"trigger": "folder_entered", "folder": "/Nowhere"}, "folder", "No folder has this path"),
        ({"date_field": "nope"}, "date_field", "no metadata field"),
        ({"date_field": "caption"}, "date_field", "not a date"),
        ({"act_move": "on", "move_folder": "/Nowhere"}, "move_folder", "No folder"),
        (
            {"act_set_metadata": "on", "metadata_field": "license_expiry", "metadata_value": "x"},
            "metadata_value",
            "YYYY-MM-DD",
        ),
        ({"act_restrict": None, "act_add_tags": None}, None, "at least one action"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_form_mistakes_are_field_errors(client, admin, expiry, folder, overrides, field, text):
    client.force_login(admin)
    response = client.post("/settings/automation/new/", form_data(**overrides))
    assert response.status_code == 422
    form = response.context["form"]
    errors = form.errors.get(field or "__all__")
    assert errors and any(text in e for e in errors), form.errors
    assert not AutomationRule.objects.exists()


def test_rule_page_lists_runs_with_few_queries(
    client, admin, expiry, folder, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    for i in range(3):
        asset_due(folder, admin, TODAY, name=f"a{i}.jpg")
    rule = date_rule(admin, days=0)
    for day in range(3):
        sweep(django_capture_on_commit_callbacks, today=TODAY + timedelta(days=day))
    client.force_login(admin)
    with django_assert_max_num_queries(20):
        page = client.get(f"/settings/automation/{rule.pk}/")
    assert page.status_code == 200
    assert page.content.decode().count("badge badge-active") >= 3


# -- API --------------------------------------------------------------------------------------
def test_api_rules_and_runs(client, admin, expiry, folder, django_capture_on_commit_callbacks):
    a = asset_due(folder, admin, date.today())
    client.force_login(admin)
    body = {
        "name": "Expired",
        "trigger": "date_reached",
        "date_field": "license_expiry",
        "actions": [{"type": "add_tags", "tags": ["expired"]}],
    }
    response = client.post(f"{API}/automation-rules", body, content_type="application/json")
    assert response.status_code == 201, response.content
    rule = response.json()
    assert rule["paused"] is False and rule["days_ahead"] == 0 and rule["run_as"] == admin.pk
    assert [r["name"] for r in client.get(f"{API}/automation-rules").json()] == ["Expired"]

    bad = client.post(
        f"{API}/automation-rules",
        {**body, "name": "Other", "trigger": "upload_matches", "expression": "(x"},
        content_type="application/json",
    )
    assert bad.status_code == 422 and "expression" in bad.json()["errors"]

    with django_capture_on_commit_callbacks(execute=True):
        run = client.post(f"{API}/automation-rules/{rule['id']}/runs")
    assert run.status_code == 202 and run.json()["manual"] is True
    runs = client.get(f"{API}/automation-rules/{rule['id']}/runs").json()
    assert runs["count"] == 1 and runs["results"][0]["assets_done"] == 1
    items = client.get(f"{API}/automation-rules/{rule['id']}/runs/{runs['results'][0]['id']}/items")
    assert [i["asset"] for i in items.json()["results"]] == [a.pk]

    patched = client.patch(
        f"{API}/automation-rules/{rule['id']}",
        {"paused": True, "days_ahead": 3},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert patched.json()["paused"] is True and patched.json()["days_ahead"] == 3
    assert client.post(f"{API}/automation-rules/{rule['id']}/runs").status_code == 409
    assert client.delete(f"{API}/automation-rules/{rule['id']}").status_code == 204
    assert client.get(f"{API}/automation-rules/{rule['id']}").status_code == 404


def test_api_refuses_non_admins(client, admin, folder):
    rule = automation.automation_rule_create(
        actor=admin, name="R", trigger="folder_entered", folder=folder.pk,
        actions=[{"type": "restrict"}],
    )  # fmt: skip
    client.force_login(UserFactory())
    assert client.get(f"{API}/automation-rules").status_code == 403
    assert client.get(f"{API}/automation-rules/{rule.pk}").status_code == 403
    assert client.delete(f"{API}/automation-rules/{rule.pk}").status_code == 403
    response = client.post(
        f"{API}/automation-rules",
        {"name": "X", "trigger": "folder_entered", "folder": folder.pk, "actions": []},
        content_type="application/json",
    )
    assert response.status_code == 403
    assert AutomationRule.objects.count() == 1
