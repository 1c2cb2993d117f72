"""Human decisions, overrides, who sees the queue, notifications; API and pages.
Permission checks come in pairs: without the right the queue or asset is absent or the
action refused, with it the action works."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.core import mail

from accounts.models import Role
from assets import services as asset_services
from assets.models import Asset
from dam.errors import NotAllowed
from dam.models import Notification
from dam.testing import AdminFactory, UserFactory, grant, image_upload, make_folder
from moderation import selectors, services
from moderation.models import Decision, DecisionKind, Outcome

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def world():
    admin = AdminFactory()
    brand = make_folder("/Brand", actor=admin)
    secret = make_folder("/Secret", actor=admin)
    preset = asset_services.preset_create(actor=admin, name="reviewed", moderation="manual")
    uploader = UserFactory(first_name="Una", last_name="Loader")
    grant(uploader, brand, "contribute")

    def pending(folder, name, actor=None):
        upload = image_upload(name)
        return asset_services.asset_upload(
            actor=actor or admin, file=upload, filename=name, folder=folder, preset=preset
        )

    moderator = UserFactory(can_moderate_assets=True)
    grant(moderator, brand, "edit")
    return {
        "admin": admin,
        "brand": brand,
        "secret": secret,
        "uploader": uploader,
        "moderator": moderator,
        "mine": pending(brand, "brand.jpg", actor=uploader),
        "secret_asset": pending(secret, "secret.jpg"),
        "pending": pending,
    }


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


# -- who moderates what ------------------------------------------------------------------
@pytest.mark.parametrize(
    "role", [Role.MASTER_ADMIN, Role.ADMIN, Role.TECHNICAL_ADMIN, Role.MEDIA_LIBRARY_ADMIN]
)
def test_admin_roles_see_and_moderate_everything(world, role):
    user = AdminFactory(role=role)
    assert set(selectors.queue(user=user)) == {world["mine"], world["secret_asset"]}
    services.decide(actor=user, asset=world["secret_asset"], decision="approve")
    world["secret_asset"].refresh_from_db()
    assert world["secret_asset"].moderation_status == "approved"


def test_a_moderator_sees_only_folders_with_edit_or_manage(world):
    moderator = world["moderator"]
    assert list(selectors.queue(user=moderator)) == [world["mine"]]
    with pytest.raises(NotAllowed):
        services.decide(actor=moderator, asset=world["secret_asset"], decision="approve")
    viewer_moderator = UserFactory(can_moderate_assets=True)
    grant(viewer_moderator, world["brand"], "view")
    assert list(selectors.queue(user=viewer_moderator)) == []


def test_without_the_permission_there_is_no_queue(client, world):
    plain = UserFactory()
    grant(plain, world["brand"], "manage")
    assert not selectors.queue(user=plain).exists()
    client.force_login(plain)
    assert client.get("/moderation/").status_code == 404
    assert client.get(f"{API}/moderation").status_code == 403
    assert client.post(f"{API}/moderation/{world['mine'].pk}", {"decision": "approve"},
                       "application/json").status_code == 403  # fmt: skip
    reports = UserFactory(role=Role.REPORTS)
    client.force_login(reports)
    assert client.get("/moderation/").status_code == 404
    world["mine"].refresh_from_db()
    assert world["mine"].moderation_status == "pending"


# -- decisions and overrides ---------------------------------------------------------------------
def test_reject_records_who_when_why_and_tells_the_uploader(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        decision = services.decide(
            actor=world["moderator"], asset=world["mine"], decision="reject", reason="Blurry logo"
        )
    world["mine"].refresh_from_db()
    assert world["mine"].moderation_status == "rejected"
    assert (decision.kind, decision.outcome, decision.reason) == ("manual", "reject", "Blurry logo")
    assert decision.decided_by == world["moderator"] and decision.version == 1
    note = Notification.objects.get(user=world["uploader"])
    assert "Blurry logo" in note.message and note.link == f"/assets/{world['mine'].pk}/"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [world["uploader"].email]
    assert "Blurry logo" in mail.outbox[0].body


def test_approving_tells_nobody(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.decide(actor=world["moderator"], asset=world["mine"], decision="approve")
    assert not Notification.objects.exists() and not mail.outbox


def test_a_human_overrides_an_automatic_rejection(world):
    asset = world["mine"]
    auto = Decision.objects.create(
        asset=asset, version=1, kind=DecisionKind.AUTO, check_name="blur",
        outcome=Outcome.REJECT, score=3.5, reason="Blurry",
    )  # fmt: skip
    Asset.objects.filter(pk=asset.pk).update(moderation_status="rejected")
    override = services.decide(actor=world["admin"], asset=asset, decision="approve", reason="Fine")
    assert override.overrides == auto
    asset.refresh_from_db()
    assert asset.moderation_status == "approved"
    assert [d.outcome for d in selectors.history(asset)] == ["approve", "reject"]


@pytest.mark.parametrize(
    ("decision", "reason", "message"),
    [
        ("maybe", "", "approve or reject"),
        ("reject", "x" * 2001, "at most 2000"),
        ("reject", "bad\x00", "NUL"),
        ("reject", 5, "is text"),
    ],
)
def test_bad_decisions_are_refused_and_change_nothing(world, decision, reason, message):
    from dam.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as info:
        services.decide(actor=world["admin"], asset=world["mine"], decision=decision, reason=reason)
    assert message in info.value.message
    world["mine"].refresh_from_db()
    assert world["mine"].moderation_status == "pending" and not Decision.objects.exists()


def test_many_at_once_each_checked(world):
    result = services.decide_many(
        actor=world["moderator"],
        ids=[world["mine"].pk, world["secret_asset"].pk, 999999],
        decision="approve",
    )
    assert result["done"] == [world["mine"].pk]
    assert result["failed"] == {str(world["secret_asset"].pk): "Not found.", "999999": "Not found."}


# -- the API -------------------------------------------------------------------------------
def test_api_queue_filters_and_decides(client, world):
    client.force_login(world["admin"])
    body = client.get(f"{API}/moderation?status=pending").json()
    assert body["count"] == 2 and body["results"][0]["decision"] is None
    assert body["results"][0]["asset"]["id"] == world["mine"].pk  # oldest first
    decided = client.post(
        f"{API}/moderation/{world['mine'].pk}",
        {"decision": "reject", "reason": "Off-brand"},
        "application/json",
    )
    assert decided.status_code == 200 and decided.json()["decided_by"] == world["admin"].pk
    rejected = client.get(f"{API}/moderation?status=rejected&kind=manual").json()
    assert [r["asset"]["id"] for r in rejected["results"]] == [world["mine"].pk]
    assert rejected["results"][0]["decision"]["reason"] == "Off-brand"
    assert client.get(f"{API}/moderation?kind=auto").json()["count"] == 0
    history = client.get(f"{API}/moderation/{world['mine'].pk}").json()
    assert [h["decision"] for h in history] == ["reject"]
    bulk = client.post(
        f"{API}/moderation/bulk",
        {"ids": [world["mine"].pk, world["secret_asset"].pk], "decision": "approve"},
        "application/json",
    ).json()
    assert bulk == {"done": [world["mine"].pk, world["secret_asset"].pk], "failed": {}}


@pytest.mark.parametrize(
    "query", ["status=everything", "kind=robot", "check=mind_reading", "page_size=999"]
)
def test_api_bad_filters_are_422(client, world, query):
    client.force_login(world["admin"])
    response = client.get(f"{API}/moderation?{query}")
    assert response.status_code == 422 and response.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    "payload", [{"decision": "maybe"}, {}, [], {"decision": "reject", "reason": 5}]
)
def test_api_bad_decisions_are_422(client, world, payload):
    client.force_login(world["admin"])
    response = client.post(f"{API}/moderation/{world['mine'].pk}", payload, "application/json")
    assert response.status_code == 422


def test_api_invisible_assets_are_404(client, world):
    client.force_login(world["moderator"])
    response = client.post(
        f"{API}/moderation/{world['secret_asset'].pk}", {"decision": "approve"}, "application/json"
    )
    assert response.status_code == 404
    assert client.get(f"{API}/moderation/{world['secret_asset'].pk}").status_code == 404


def test_api_queue_query_count_does_not_grow(client, world, django_assert_max_num_queries):
    services.decide(actor=world["admin"], asset=world["mine"], decision="reject")
    client.force_login(world["admin"])
    with django_assert_max_num_queries(8) as few:
        client.get(f"{API}/moderation")
    for i in range(10):
        asset = world["pending"](world["brand"], f"more{i}.jpg")
        services.decide(actor=world["admin"], asset=asset, decision="reject", reason="r")
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(f"{API}/moderation").json()
    assert body["count"] == 12


# -- pages ---------------------------------------------------------------------------------
def test_queue_page_filters_and_decides(client, world):
    client.force_login(world["moderator"])
    page = client.get("/moderation/").content.decode()
    assert world["mine"].display_name in page and "Not decided yet" in page
    assert world["secret_asset"].display_name not in page
    response = client.post(
        "/moderation/decide/",
        {"ids": [world["mine"].pk], "decision": "reject", "reason": "Wrong logo",
         "next": "/moderation/?status=pending"},
    )  # fmt: skip
    assert response["Location"] == "/moderation/?status=pending"
    assert "Rejected 1 asset." in texts(response)
    rejected = client.get("/moderation/?status=rejected").content.decode()
    assert "Wrong logo" in rejected
    assert "Nothing waiting for review" in client.get("/moderation/").content.decode()
    evil = client.post(
        "/moderation/decide/",
        {"ids": [world["mine"].pk], "decision": "approve", "next": "https://evil.example/"},
    )
    assert evil["Location"] == "/moderation/"


def test_queue_page_query_count_does_not_grow(client, world, django_assert_max_num_queries):
    client.force_login(world["admin"])
    with django_assert_max_num_queries(20) as few:
        client.get("/moderation/?status=all")
    for i in range(8):
        world["pending"](world["brand"], f"more{i}.jpg")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/moderation/?status=all")
    assert page.content.decode().count('class="tile-select-row"') == 10


def test_library_bulk_and_asset_page_decide(client, world):
    client.force_login(world["moderator"])
    library = client.get(f"/library/folders/{world['brand'].pk}/").content.decode()
    assert "Reject…" in library and "Pending" in library
    response = client.post(
        f"/library/folders/{world['brand'].pk}/bulk/",
        {"action": "reject", "ids": [world["mine"].pk], "reason_reject": "Old logo"},
    )
    assert "Rejected 1 asset." in texts(response)
    detail = client.get(f"/assets/{world['mine'].pk}/").content.decode()
    assert "Moderation history" in detail and "Old logo" in detail
    response = client.post(
        "/moderation/decide/",
        {"ids": [world["mine"].pk], "decision": "approve", "next": f"/assets/{world['mine'].pk}/"},
    )
    assert response["Location"] == f"/assets/{world['mine'].pk}/"
    world["mine"].refresh_from_db()
    assert world["mine"].moderation_status == "approved"


def test_uploaders_see_the_badge_but_no_moderation_controls(client, world):
    Asset.objects.filter(pk=world["mine"].pk).update(moderation_status="rejected")
    client.force_login(world["uploader"])
    detail = client.get(f"/assets/{world['mine'].pk}/").content.decode()
    assert "badge-mod-rejected" in detail and "Moderation history" not in detail
    library = client.get(f"/library/folders/{world['brand'].pk}/").content.decode()
    assert "Reject…" not in library


def test_notifications_page_marks_read(client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.decide(actor=world["admin"], asset=world["mine"], decision="reject", reason="No")
    client.force_login(world["uploader"])
    home = client.get(f"/assets/{world['mine'].pk}/").content.decode()
    assert 'aria-label="Notifications: 1 new"' in home
    page = client.get("/notifications/").content.decode()
    assert "was rejected" in page and "New" in page
    assert Notification.objects.get().read_at is not None
    assert 'aria-label="Notifications"' in client.get("/notifications/").content.decode()


# -- regressions from review ---------------------------------------------------------------
def test_restoring_a_version_sets_the_asset_pending(world):
    from assets.models import AssetVersion

    asset = world["mine"]
    services.decide(actor=world["admin"], asset=asset, decision="approve")
    AssetVersion.objects.create(
        asset=asset,
        number=2,
        blob_name=asset.current_version.blob_name,
        sha256=asset.current_version.sha256,
        bytes=asset.bytes,
        original_filename="v2.jpg",
        format="jpg",
        mime_type="image/jpeg",
        created_by=world["admin"],
    )
    Asset.objects.filter(pk=asset.pk).update(version=2)
    asset.refresh_from_db()
    asset_services.asset_version_restore(actor=world["admin"], asset=asset, number=1)
    asset.refresh_from_db()
    assert (asset.version, asset.moderation_status) == (3, "pending")


def test_the_uploader_of_the_judged_version_is_told_once(world, django_capture_on_commit_callbacks):
    from assets.models import AssetVersion

    other = UserFactory(first_name="Otto")
    AssetVersion.objects.filter(asset=world["mine"], number=1).update(created_by=other)
    Asset.objects.filter(pk=world["mine"].pk).update(display_name="Two\nlines")
    world["mine"].refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        decision = services.decide(actor=world["admin"], asset=world["mine"], decision="reject")
    assert [m.to for m in mail.outbox] == [[other.email]]
    assert mail.outbox[0].subject == "“Two lines” was rejected"
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_rejection(decision_id=decision.pk)  # a redelivered task
    assert Notification.objects.filter(user=other).count() == 1 and len(mail.outbox) == 1


def test_a_rejection_overturned_before_the_notice_is_not_sent(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.decide(actor=world["admin"], asset=world["mine"], decision="reject")
    services.decide(actor=world["admin"], asset=world["mine"], decision="approve")
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()
    assert not Notification.objects.exists() and not mail.outbox


def test_a_newer_version_than_the_one_reviewed_is_not_decided(client, world):
    from dam.errors import Conflict

    with pytest.raises(Conflict) as info:
        services.decide(actor=world["admin"], asset=world["mine"], decision="approve", version=7)
    assert "newer version" in info.value.message
    client.force_login(world["admin"])
    response = client.post(
        f"{API}/moderation/{world['mine'].pk}",
        {"decision": "approve", "version": 7},
        "application/json",
    )
    assert response.status_code == 409
    page = client.post(
        "/moderation/decide/",
        {"ids": [world["mine"].pk], f"version_{world['mine'].pk}": "7", "decision": "approve"},
    )
    assert any("newer version" in t for t in texts(page))
    world["mine"].refresh_from_db()
    assert world["mine"].moderation_status == "pending"


def test_unmoderated_assets_are_not_decided(world):
    from dam.errors import Conflict
    from dam.testing import make_asset

    plain = make_asset(world["brand"], actor=world["admin"], name="plain.jpg")
    with pytest.raises(Conflict) as info:
        services.decide(actor=world["admin"], asset=plain, decision="reject")
    assert "is not moderated" in info.value.message
    plain.refresh_from_db()
    assert plain.moderation_status == "not_moderated"


def test_library_approve_ignores_a_reason_typed_for_rejecting(client, world):
    client.force_login(world["moderator"])
    client.post(
        f"/library/folders/{world['brand'].pk}/bulk/",
        {"action": "approve", "ids": [world["mine"].pk], "reason_reject": "typed then cancelled"},
    )
    assert Decision.objects.get(asset=world["mine"]).reason == ""


def test_automatic_moderation_needs_a_check(world):
    from dam.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as info:
        asset_services.preset_create(actor=world["admin"], name="empty", moderation="auto")
    assert info.value.field == "auto_checks"
    preset = asset_services.preset_create(
        actor=world["admin"], name="ok", moderation="auto", auto_checks=["blur"]
    )
    with pytest.raises(ValidationFailed):
        asset_services.preset_update(actor=world["admin"], preset=preset, auto_checks=[])
