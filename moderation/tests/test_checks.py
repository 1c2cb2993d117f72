"""Automatic checks on generated images, through the real pipeline (renditions, then the
checks), and the content-safety path through nudenet's ONNX model."""

from __future__ import annotations

import io
import random

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFilter

from assets import services as asset_services
from assets.models import Asset
from dam.testing import AdminFactory, make_folder
from moderation import checks
from moderation.models import Decision, DecisionKind, Outcome

pytestmark = pytest.mark.django_db


def detailed_image(width=800, height=600, seed=1) -> Image.Image:
    """Lots of edges: random shapes and fine lines (sharp, and a distinct perceptual hash)."""
    rnd = random.Random(seed)
    img = Image.new("RGB", (width, height), (rnd.randrange(256), 200, 120))
    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y = rnd.randrange(width), rnd.randrange(height)
        r = rnd.randrange(10, 120)
        colour = tuple(rnd.randrange(256) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=(0, 0, 0), width=3)
    for x in range(0, width, 7):
        draw.line((x, 0, x, height // 5), fill=(0, 0, 0), width=1)
    return img


def jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


@pytest.fixture
def admin():
    return AdminFactory()


@pytest.fixture
def folder(admin):
    return make_folder("/Uploads", actor=admin)


def preset_with(admin, *auto_checks, **settings):
    return asset_services.preset_create(
        actor=admin,
        name="checked-" + "-".join(c.replace("_", "") for c in auto_checks),
        moderation="auto",
        auto_checks=list(auto_checks),
        check_settings=settings or None,
    )


def upload(admin, folder, data: bytes, preset, name="photo.jpg", capture=None) -> Asset:
    with capture(execute=True):  # processing, then the checks, as the worker would
        asset = asset_services.asset_upload(
            actor=admin,
            file=SimpleUploadedFile(name, data),
            filename=name,
            folder=folder,
            preset=preset,
        )
    asset.refresh_from_db()
    return asset


def auto_decisions(asset):
    return {d.check_name: d for d in Decision.objects.filter(asset=asset, kind=DecisionKind.AUTO)}


# -- quality --------------------------------------------------------------------------------
def test_a_blurred_image_is_rejected_and_a_sharp_one_approved(
    admin, folder, django_capture_on_commit_callbacks
):
    preset = preset_with(admin, "blur")
    sharp = upload(admin, folder, jpeg(detailed_image()), preset, "sharp.jpg",
                   django_capture_on_commit_callbacks)  # fmt: skip
    blurred_img = detailed_image(seed=2).filter(ImageFilter.GaussianBlur(12))
    blurred = upload(admin, folder, jpeg(blurred_img), preset, "blurred.jpg",
                     django_capture_on_commit_callbacks)  # fmt: skip
    assert sharp.moderation_status == "approved"
    assert blurred.moderation_status == "rejected"
    decision = auto_decisions(blurred)["blur"]
    assert decision.outcome == Outcome.REJECT and decision.score < 20
    assert "Blurry" in decision.reason and decision.decided_by is None
    assert auto_decisions(sharp)["blur"].score >= 100


def test_a_tiny_image_is_rejected_a_small_one_waits_a_large_one_passes(
    admin, folder, django_capture_on_commit_callbacks
):
    preset = preset_with(admin, "min_size", min_size={"reject_below": 100, "approve_at": 300})
    cap = django_capture_on_commit_callbacks
    tiny = upload(admin, folder, jpeg(detailed_image(64, 48)), preset, "tiny.jpg", cap)
    small = upload(admin, folder, jpeg(detailed_image(200, 150, seed=3)), preset, "s.jpg", cap)
    large = upload(admin, folder, jpeg(detailed_image(640, 480, seed=4)), preset, "l.jpg", cap)
    assert (tiny.moderation_status, small.moderation_status, large.moderation_status) == (
        "rejected",
        "pending",
        "approved",
    )
    assert "Too small: 64 × 48 px" in auto_decisions(tiny)["min_size"].reason
    assert auto_decisions(small)["min_size"].outcome == Outcome.PENDING


def test_file_size_limits(admin, folder, django_capture_on_commit_callbacks):
    preset = preset_with(admin, "file_size", file_size={"min_bytes": 1, "max_bytes": 5000})
    big = upload(admin, folder, jpeg(detailed_image()), preset, "big.jpg",
                 django_capture_on_commit_callbacks)  # fmt: skip
    assert big.moderation_status == "rejected"
    assert "File too large" in auto_decisions(big)["file_size"].reason


def test_a_near_duplicate_is_rejected(admin, folder, django_capture_on_commit_callbacks):
    preset = preset_with(admin, "near_duplicates")
    cap = django_capture_on_commit_callbacks
    original = detailed_image(seed=7)
    first = upload(admin, folder, jpeg(original), preset, "first.jpg", cap)
    brighter = original.point(lambda v: min(255, int(v * 1.06)))  # same picture, re-saved
    again = upload(admin, folder, jpeg(brighter), preset, "again.jpg", cap)
    other = upload(admin, folder, jpeg(detailed_image(seed=99)), preset, "other.jpg", cap)
    assert first.moderation_status == "approved"  # nothing to compare with but others
    decision = auto_decisions(again)["near_duplicates"]
    assert again.moderation_status == "rejected" and decision.details["nearest"] == first.pk
    assert decision.score <= 4 and "Near-duplicate of an existing asset" in decision.reason
    assert str(first.pk) not in decision.reason  # the other asset may be invisible to them
    assert other.moderation_status == "approved"
    assert checks.nearest_duplicate(other)[0] > 10


# -- content safety through the model ---------------------------------------------------------
def test_content_safety_goes_through_the_onnx_model_once_per_process(
    admin, folder, django_capture_on_commit_callbacks
):
    from moderation import services

    preset = preset_with(admin, "content_safety")
    cap = django_capture_on_commit_callbacks
    asset = upload(admin, folder, jpeg(detailed_image(seed=5)), preset, "scene.jpg", cap)
    decision = auto_decisions(asset)["content_safety"]
    # The recorded score is what the model says about the same input, not a constant.
    image = services._check_image(asset)
    expected, detections = checks.safety_score(image)
    assert decision.score == expected
    assert decision.details["detections"] == [
        {"class": d["class"], "score": round(float(d["score"]), 4)} for d in detections
    ]
    assert decision.outcome == (Outcome.APPROVE if expected < 0.3 else decision.outcome)
    loads = checks.model_loads
    upload(admin, folder, jpeg(detailed_image(seed=6)), preset, "scene2.jpg", cap)
    assert checks.model_loads == loads == 1  # loaded once for the whole process
    assert checks.detector() is checks.detector()


def test_content_safety_thresholds_decide_from_the_models_score(monkeypatch):
    """The verdict follows the thresholds around whatever score the model gives."""
    image = detailed_image(seed=5)
    score, _ = checks.safety_score(image)
    s = {"approve_below": score + 0.01, "reject_at": score + 0.5}
    assert checks.content_safety(image, s).outcome == Outcome.APPROVE
    s = {"approve_below": 0.0, "reject_at": score}
    assert checks.content_safety(image, s).outcome == Outcome.REJECT
    s = {"approve_below": 0.0, "reject_at": score + 0.1}
    assert checks.content_safety(image, s).outcome == Outcome.PENDING


# -- combining and settings ----------------------------------------------------------------
def test_any_reject_rejects_all_approve_approves_otherwise_pending():
    r = lambda outcome: checks.Result("blur", outcome, None, "")  # noqa: E731
    assert checks.combine([r("approve"), r("reject"), r("pending")]) == "reject"
    assert checks.combine([r("approve"), r("approve")]) == "approve"
    assert checks.combine([r("approve"), r("pending")]) == "pending"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "an object keyed by check name"),
        ({"mind_reading": {}}, "no automatic check"),
        ({"blur": 5}, "an object of thresholds"),
        ({"blur": {"sharpness": 1}}, "blur takes reject_below, approve_at"),
        ({"blur": {"approve_at": "high"}}, "is a number"),
        ({"blur": {"approve_at": True}}, "is a number"),
        ({"content_safety": {"reject_at": 2}}, "between 0 and 1"),
        ({"blur": {"reject_below": 500, "approve_at": 100}}, "reject_below ≤ approve_at"),
    ],
)
def test_bad_check_settings_are_refused_clearly(raw, message):
    with pytest.raises(ValueError) as info:
        checks.clean_settings(raw)
    assert message in str(info.value)


def test_a_preset_refuses_bad_check_settings(admin):
    from dam.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as info:
        asset_services.preset_create(
            actor=admin, name="bad", moderation="auto", check_settings={"blur": {"x": 1}}
        )
    assert info.value.field == "check_settings"


def test_a_human_decision_is_never_overwritten_by_a_late_check(
    admin, folder, django_capture_on_commit_callbacks
):
    from moderation import services

    preset = preset_with(admin, "blur")
    with django_capture_on_commit_callbacks(execute=False):  # processing not run yet
        asset = asset_services.asset_upload(
            actor=admin,
            file=SimpleUploadedFile("x.jpg", jpeg(detailed_image())),
            filename="x.jpg",
            folder=folder,
            preset=preset,
        )
    services.decide(actor=admin, asset=asset, decision="reject", reason="Off-brand")
    asset_services.version_process(version_id=asset.versions.get().pk)
    assert services.auto_moderate(asset_id=asset.pk, version=1) is None
    asset.refresh_from_db()
    assert asset.moderation_status == "rejected"
    assert not Decision.objects.filter(asset=asset, kind=DecisionKind.AUTO).exists()


def test_the_deciding_check_is_the_latest_decision(
    admin, folder, django_capture_on_commit_callbacks, mailoutbox
):
    from moderation import selectors

    preset = preset_with(admin, "min_size", "file_size")  # min_size runs first
    owner = AdminFactory(role="media_library_admin")
    with django_capture_on_commit_callbacks(execute=True):
        asset = asset_services.asset_upload(
            actor=owner,
            file=SimpleUploadedFile("tiny.jpg", jpeg(detailed_image(50, 40))),
            filename="tiny.jpg",
            folder=folder,
            preset=preset,
        )
    history = selectors.history(asset)
    assert [d.check_name for d in history] == ["min_size", "file_size"]  # newest first
    assert history[0].outcome == Outcome.REJECT
    assert len(mailoutbox) == 1 and "Too small" in mailoutbox[0].body
