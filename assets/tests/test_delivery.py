"""Delivery: the transformation language, who may fetch (access modes, windows at their
edges, moderation, expiry), signed URLs (tampered, swapped, expired, a new version),
strict transformations, renditions made once, response headers, the API and the
block-downloads preference."""

from __future__ import annotations

import io
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from PIL import Image

from accounts.policy import CollectionLevel, Level
from assets import delivery, delivery_services, services
from assets.models import AccessMode, Asset, DeliveryPreset, ModerationStatus, Rendition
from dam.models import Preferences
from dam.testing import AdminFactory, UserFactory, grant, make_asset, make_folder

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def world():
    admin = AdminFactory()
    brand = make_folder("/Brand", actor=admin)
    secret = make_folder("/Secret", actor=admin)
    photo = make_asset(brand, actor=admin, name="hero.jpg", public_id="brand/hero")
    hidden = make_asset(secret, actor=admin, name="plan.jpg", public_id="secret/plan")
    deliverer = UserFactory(can_use_delivery_urls=True)
    plain = UserFactory()
    for user in (deliverer, plain):
        grant(user, brand, Level.EDIT)
    DeliveryPreset.objects.create(name="card", transformation="w_200,h_100,c_fill,f_png")
    for asset in (photo, hidden):  # processing runs after commit, which tests never reach
        _set(asset, processing_status="ready")
    return {"admin": admin, "brand": brand, "photo": photo, "hidden": hidden,
            "deliverer": deliverer, "plain": plain}  # fmt: skip


def _set(asset, **fields):
    Asset.all_objects.filter(pk=asset.pk).update(**fields)
    asset.refresh_from_db()
    return asset


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- the language ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("w_400", "w_400"),
        ("h_300,w_400,c_fill,f_webp,q_80", "w_400,h_300,c_fill,f_webp,q_80"),
        ("f_jpeg", "f_jpg"),
        ("w_10,q_auto", "w_10"),
        ("c_scale,h_50", "h_50,c_scale"),
    ],
)
def test_transformations_parse_to_one_spelling(text, canonical):
    assert delivery.parse(text).canonical() == canonical


@pytest.mark.parametrize(
    "text",
    ["w_0", "w_4001", "w_abc", "h_-1", "c_stretch", "f_gif", "q_0", "q_101", "x_1", "w_1,w_2",
     "c_fill", "w_10,,h_10", "w_" + "9" * 300, "w_1\x00", "t_card", "w_1;drop table",
     "w_²", "h_①"],
)  # fmt: skip
def test_bad_transformations_are_refused_with_a_reason(text):
    with pytest.raises(delivery.BadTransformation) as caught:
        delivery.parse(text)
    assert caught.value.message


def test_presets_stand_alone_and_never_nest():
    presets = {"card": "w_200,h_100,c_fill", "loop": "t_card"}
    t = delivery.parse("t_card", presets=presets)
    assert (t.canonical(), t.preset) == ("w_200,h_100,c_fill", "card")
    for text in ("t_card,w_10", "t_nope", "t_loop"):
        with pytest.raises(delivery.BadTransformation):
            delivery.parse(text, presets=presets)


def test_f_auto_follows_the_accept_header():
    t = delivery.parse("w_10,f_auto")
    assert delivery.output_format(t, "png", "image/avif,image/webp,*/*") == "webp"
    assert delivery.output_format(t, "png", "image/png") == "jpg"
    assert delivery.output_format(delivery.parse("w_10"), "png") == "png"
    assert delivery.output_format(delivery.parse("w_10"), "tiff") == "jpg"


# -- who sees what, at the window's edges (a fixed clock) -------------------------------------
def test_modes_windows_moderation_and_expiry(world):
    asset = world["photo"]
    now = timezone.now().replace(microsecond=0)
    assert delivery.public_now(asset, now)
    _set(asset, public_from=now, public_until=now + timedelta(hours=1))
    assert not delivery.public_now(asset, now - timedelta(microseconds=1))
    assert delivery.public_now(asset, now)  # from is inclusive
    assert delivery.public_now(asset, now + timedelta(minutes=59, seconds=59))
    assert not delivery.public_now(asset, now + timedelta(hours=1))  # until is exclusive
    assert delivery.effective_mode(asset, now + timedelta(hours=1)) == "ended"
    assert delivery.effective_mode(asset, now - timedelta(seconds=1)) == "scheduled"
    _set(asset, public_from=None, public_until=None, expires_at=now)
    assert not delivery.public_now(asset, now) and delivery.effective_mode(asset, now) == "expired"
    assert delivery.public_now(asset, now - timedelta(seconds=1))
    _set(asset, expires_at=None)
    for status in (ModerationStatus.PENDING, ModerationStatus.REJECTED):
        _set(asset, moderation_status=status)
        assert not delivery.public_now(asset, now)
    _set(asset, moderation_status=ModerationStatus.APPROVED)
    assert delivery.public_now(asset, now)
    _set(asset, access_mode=AccessMode.RESTRICTED)
    assert not delivery.public_now(asset, now) and delivery.effective_mode(asset) == "restricted"


# -- signed tokens ------------------------------------------------------------------------------
def test_tokens_are_bound_to_asset_version_transformation_and_time(world):
    photo, hidden = world["photo"], world["hidden"]
    now = timezone.now()
    expires = int(now.timestamp()) + 60
    token = delivery.sign(photo, "w_10", expires)
    assert delivery.token_valid(photo, "w_10", expires, token, now=now)
    assert not delivery.token_valid(photo, "w_11", expires, token, now=now)  # tampered
    assert not delivery.token_valid(photo, "w_10", expires + 1, token, now=now)  # longer
    assert not delivery.token_valid(hidden, "w_10", expires, token, now=now)  # swapped
    assert not delivery.token_valid(photo, "w_10", expires, token[:-1] + "x", now=now)
    later = now + timedelta(seconds=61)
    assert not delivery.token_valid(photo, "w_10", expires, token, now=later)  # expired
    for bad in ("", None, "x" * 500):
        assert not delivery.token_valid(photo, "w_10", expires, bad, now=now)
    assert not delivery.token_valid(photo, "w_10", "soon", token, now=now)
    _set(photo, version=photo.version + 1)  # a new version: old links stop working
    assert not delivery.token_valid(photo, "w_10", expires, token, now=now)


# -- the URLs -----------------------------------------------------------------------------------
def test_public_asset_is_delivered_with_caching_headers(client, world):
    response = client.get("/d/brand/hero")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("public")
    assert "attachment" not in response.get("Content-Disposition", "")
    etag = response["ETag"]
    again = client.get("/d/brand/hero", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304


def test_presets_render_once_and_free_transformations_need_a_signature(client, world):
    response = client.get("/d/t_card/brand/hero")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert image.size == (200, 100)
    made = Rendition.objects.filter(version__asset=world["photo"], spec__startswith="d:")
    assert made.count() == 1
    assert client.get("/d/t_card/brand/hero").status_code == 200
    assert made.count() == 1  # made once, then read
    refused = client.get("/d/w_123/brand/hero")
    assert refused.status_code == 403 and "t_NAME" in refused.json()["detail"]
    assert client.get("/d/t_nope/brand/hero").status_code == 400
    assert made.count() == 1


def test_crop_modes_give_the_sizes_asked(world):
    photo = world["photo"]  # 640×480
    version = photo.versions.get(number=photo.version)
    sizes = {
        "w_100,h_100,c_fill": (100, 100),
        "w_100,h_100,c_fit": (100, 75),
        "w_100,h_100,c_scale": (100, 100),
        "w_2000,c_limit": (640, 480),
        "w_1280,c_fit": (1280, 960),
        "h_48": (64, 48),
    }
    for text, size in sizes.items():
        data, w, h = delivery_services.render(version, photo, delivery.parse(text), "webp")
        assert (w, h) == size, text
        assert Image.open(io.BytesIO(data)).size == size


def test_restricted_asset_needs_a_valid_signed_url(client, world):
    photo = _set(world["photo"], access_mode=AccessMode.RESTRICTED)
    assert client.get("/d/brand/hero").status_code == 404
    signed = delivery.signed_url(photo, expires_in=60, transformation="w_64,f_webp")
    response = client.get(_path(signed["url"]))
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    assert response["Cache-Control"].startswith("private")
    swapped = _path(signed["url"]).replace("w_64", "w_65")
    assert client.get(swapped).status_code == 403
    other = _path(signed["url"]).replace("brand/hero", "secret/plan")
    assert client.get(other).status_code == 403
    expired = delivery.signed_url(photo, expires_in=1, now=timezone.now() - timedelta(seconds=5))
    assert client.get(_path(expired["url"])).status_code == 403
    assert client.get("/d/no/such/asset").status_code == 404


def test_pending_trashed_and_raw_files(client, world):
    photo = _set(world["photo"], moderation_status=ModerationStatus.PENDING)
    assert client.get("/d/brand/hero").status_code == 404
    _set(photo, moderation_status=ModerationStatus.APPROVED, deleted_at=timezone.now())
    signed = delivery.signed_url(photo, expires_in=60)
    assert client.get(_path(signed["url"])).status_code == 403  # trash: nothing reaches it
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv = services.asset_upload(
        actor=world["admin"],
        file=SimpleUploadedFile("list.csv", b"a,b\n1,2\n"),
        filename="list.csv",
        folder=world["brand"],
        public_id="brand/list",
    )
    _set(csv, processing_status="ready")
    response = client.get(f"/d/{csv.public_id}")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert client.get(f"/d/t_card/{csv.public_id}").status_code == 400


# -- API ------------------------------------------------------------------------------------------
def test_delivery_url_api_permission_pairs(client, world):
    photo, hidden = world["photo"], world["hidden"]
    body = {"expires_in": 120, "transformation": "t_card"}
    client.force_login(world["plain"])
    url = f"{API}/assets/{photo.pk}/delivery-url"
    assert client.post(url, body, content_type="application/json").status_code == 403
    client.force_login(world["deliverer"])
    hidden_url = f"{API}/assets/{hidden.pk}/delivery-url"
    assert client.post(hidden_url, body, content_type="application/json").status_code == 404
    made = client.post(url, body, content_type="application/json")
    assert made.status_code == 200
    assert "/d/t_card/brand/hero?expires=" in made.json()["url"]
    bad = client.post(url, {"expires_in": 0}, content_type="application/json")
    assert bad.status_code == 422 and "expires_in" in bad.json()["errors"]
    bad = client.post(url, {"transformation": "w_0"}, content_type="application/json")
    assert bad.status_code == 422 and "transformation" in bad.json()["errors"]
    _set(photo, access_mode=AccessMode.RESTRICTED)
    client.logout()
    assert client.get(_path(made.json()["url"])).status_code == 200


def test_patch_access_control_needs_the_permission(client, world):
    photo = world["photo"]
    url = f"{API}/assets/{photo.pk}"
    client.force_login(world["plain"])
    refused = client.patch(url, {"access_mode": "restricted"}, content_type="application/json")
    assert refused.status_code == 403
    same = client.patch(url, {"access_mode": "public"}, content_type="application/json")
    assert same.status_code == 200  # nothing changes: nothing to refuse
    client.force_login(world["deliverer"])
    start = timezone.now().replace(microsecond=0) + timedelta(days=1)
    body = {"access_mode": "public", "public_from": start.isoformat(),
            "public_until": (start + timedelta(days=2)).isoformat()}  # fmt: skip
    done = client.patch(url, body, content_type="application/json")
    assert done.status_code == 200 and done.json()["delivery_url"] is None  # not yet public
    wrong = {"public_until": (start - timedelta(days=3)).isoformat()}
    refused = client.patch(url, wrong, content_type="application/json")
    assert refused.status_code == 422 and "public_until" in refused.json()["errors"]
    cleared = client.patch(url, {"public_from": None}, content_type="application/json").json()
    assert cleared["public_from"] is None and cleared["delivery_url"].endswith("/d/brand/hero")
    client.force_login(world["admin"])
    hidden = client.patch(f"{API}/assets/{world['hidden'].pk}", {"expires_at": None},
                          content_type="application/json")  # fmt: skip
    assert hidden.status_code == 200


def test_presets_api_is_for_admins(client, world):
    client.force_login(world["plain"])
    assert [p["name"] for p in client.get(f"{API}/delivery-presets").json()] == ["card"]
    body = {"name": "thumb", "transformation": "w_100"}
    assert (
        client.post(f"{API}/delivery-presets", body, content_type="application/json").status_code
        == 403
    )
    client.force_login(world["admin"])
    made = client.post(f"{API}/delivery-presets", body, content_type="application/json")
    assert made.status_code == 201 and made.json()["transformation"] == "w_100"
    again = client.post(f"{API}/delivery-presets", body, content_type="application/json")
    assert again.status_code == 409
    bad = client.post(f"{API}/delivery-presets", {"name": "x", "transformation": "t_card"},
                      content_type="application/json")  # fmt: skip
    assert bad.status_code == 422
    changed = client.patch(f"{API}/delivery-presets/thumb", {"transformation": "h_50,w_60"},
                           content_type="application/json")  # fmt: skip
    assert changed.json()["transformation"] == "w_60,h_50"
    assert client.delete(f"{API}/delivery-presets/thumb").status_code == 204
    assert client.delete(f"{API}/delivery-presets/thumb").status_code == 404


def test_block_downloads_of_restricted_assets(client, world):
    photo = _set(world["photo"], access_mode=AccessMode.RESTRICTED)
    Preferences.objects.update_or_create(pk=1, defaults={"block_restricted_downloads": True})
    client.force_login(world["plain"])
    assert client.get(f"{API}/assets/{photo.pk}/download").status_code == 403
    assert client.get(f"/assets/{photo.pk}/download/").status_code == 403
    assert client.get(f"{API}/assets/{world['hidden'].pk}/download").status_code == 404
    client.force_login(world["admin"])
    assert client.get(f"{API}/assets/{photo.pk}/download").status_code == 200
    Preferences.objects.filter(pk=1).update(block_restricted_downloads=False)
    client.force_login(world["plain"])
    assert client.get(f"{API}/assets/{photo.pk}/download").status_code == 200


# -- pages -----------------------------------------------------------------------------------
def test_asset_page_shows_delivery_to_those_with_the_permission(client, world):
    photo = world["photo"]
    client.force_login(world["plain"])
    page = client.get(f"/assets/{photo.pk}/").content.decode()
    assert "Access and delivery" not in page and "badge-access-public" in page
    client.force_login(world["deliverer"])
    page = client.get(f"/assets/{photo.pk}/").content.decode()
    assert (
        "Access and delivery" in page and "/d/brand/hero" in page and "/d/t_card/brand/hero" in page
    )
    assert "Save access" in page  # edit level + permission
    _set(photo, access_mode=AccessMode.RESTRICTED)
    page = client.get(f"/assets/{photo.pk}/").content.decode()
    assert "plain delivery URLs are refused" in page and "/d/t_card/brand/hero" not in page


def test_access_form_saves_and_shows_mistakes(client, world):
    photo = world["photo"]
    client.force_login(world["deliverer"])
    url = f"/assets/{photo.pk}/access/"
    saved = client.post(url, {"access_mode": "restricted", "public_from": "", "public_until": "",
                              "expires_at": "2030-01-02T03:04"})  # fmt: skip
    assert saved.status_code == 302
    photo.refresh_from_db()
    assert photo.access_mode == "restricted" and photo.expires_at.isoformat().startswith(
        "2030-01-02T03:04:00+00:00"
    )
    wrong = client.post(url, {"access_mode": "public", "public_from": "2030-01-02T00:00",
                              "public_until": "2029-01-01T00:00", "expires_at": ""})  # fmt: skip
    assert wrong.status_code == 422 and "ends after it starts" in wrong.content.decode()
    assert client.post(url, {"access_mode": "secret"}).status_code == 422
    assert client.post(url, {"access_mode": "public", "expires_at": "soon"}).status_code == 422
    photo.refresh_from_db()
    assert photo.access_mode == "restricted"  # nothing half-written
    client.force_login(world["plain"])
    refused = client.post(url, {"access_mode": "public"})
    assert refused.status_code == 403 and "delivery-URL permission" in refused.content.decode()
    hidden = client.post(f"/assets/{world['hidden'].pk}/access/", {"access_mode": "public"})
    assert hidden.status_code == 404


def test_signed_url_form(client, world):
    photo = world["photo"]
    url = f"/assets/{photo.pk}/delivery-url/"
    client.force_login(world["plain"])
    assert client.post(url, {"expires_in": "3600"}).status_code == 403
    client.force_login(world["deliverer"])
    made = client.post(url, {"transformation": "t_card", "expires_in": "86400"})
    assert made.status_code == 200 and "Copy signed URL" in made.content.decode()
    assert "/d/t_card/brand/hero?expires=" in made.content.decode()
    partial = client.post(url, {"transformation": "custom", "custom": "w_99", "expires_in": "3600"},
                          HTTP_HX_REQUEST="true")  # fmt: skip
    body = partial.content.decode()
    assert partial.status_code == 200 and "/d/w_99/brand/hero?expires=" in body
    assert "<html" not in body
    bad = client.post(url, {"transformation": "custom", "custom": "w_0", "expires_in": "60"},
                      HTTP_HX_REQUEST="true")  # fmt: skip
    assert bad.status_code == 422 and "Width" in bad.content.decode()
    bad = client.post(url, {"transformation": "", "expires_in": "x"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 422 and "expires_in is a number" in bad.content.decode()


def test_delivery_presets_settings_page(client, world):
    client.force_login(world["plain"])
    assert client.get("/settings/delivery/").status_code == 404
    client.force_login(world["admin"])
    page = client.get("/settings/delivery/")
    assert page.status_code == 200 and "t_card" in page.content.decode()
    made = client.post("/settings/delivery/", {"name": "hero", "transformation": "w_1200,f_auto"})
    assert made.status_code == 302 and DeliveryPreset.objects.filter(name="hero").exists()
    bad = client.post("/settings/delivery/", {"name": "Bad Name!", "transformation": "w_1"})
    assert bad.status_code == 422 and "lower-case" in bad.content.decode()
    bad = client.post("/settings/delivery/", {"name": "ok", "transformation": "w_1,nope"})
    assert bad.status_code == 422 and "not a transformation" in bad.content.decode()
    edited = client.post("/settings/delivery/hero/", {"transformation": "h_10,w_20"})
    assert edited.status_code == 302
    assert DeliveryPreset.objects.get(name="hero").transformation == "w_20,h_10"
    assert client.post("/settings/delivery/hero/", {"transformation": "t_x"}).status_code == 422
    assert client.post("/settings/delivery/hero/delete/").status_code == 302
    assert not DeliveryPreset.objects.filter(name="hero").exists()
    assert client.post("/settings/delivery/hero/delete/").status_code == 404


def test_bulk_access_pairs(client, world):
    photo, hidden = world["photo"], world["hidden"]
    body = {"ids": [photo.pk, hidden.pk], "action": "set_access", "access_mode": "restricted"}
    client.force_login(world["plain"])
    refused = client.post(f"{API}/assets/bulk", body, content_type="application/json")
    assert refused.status_code == 403
    client.force_login(world["deliverer"])
    done = client.post(f"{API}/assets/bulk", body, content_type="application/json").json()
    assert done["done"] == [photo.pk] and done["failed"] == {str(hidden.pk): "Not found."}
    photo.refresh_from_db()
    assert photo.access_mode == "restricted"
    bad = {**body, "access_mode": "open"}
    assert (
        client.post(f"{API}/assets/bulk", bad, content_type="application/json").status_code == 422
    )
    page = client.post(
        f"/library/folders/{world['brand'].pk}/bulk/", {"ids": [photo.pk], "action": "make_public"}
    )
    assert page.status_code == 302
    photo.refresh_from_db()
    assert photo.access_mode == "public"


def test_library_badges_expired_and_restricted(client, world):
    photo = _set(world["photo"], expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(world["deliverer"])
    grid = client.get(f"/library/folders/{world['brand'].pk}/").content.decode()
    assert "badge-access-expired" in grid and "Expired" in grid
    _set(photo, expires_at=None, access_mode=AccessMode.RESTRICTED)
    grid = client.get(f"/library/folders/{world['brand'].pk}/").content.decode()
    assert "badge-access-restricted" in grid


def test_the_web_server_sends_the_bytes_with_x_accel_redirect(client, world, settings):
    settings.DAM_DELIVERY_ACCEL_PREFIX = "/protected/"
    version = world["photo"].versions.get()
    response = client.get("/d/brand/hero")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/protected/{version.blob_name}"
    assert response["Content-Type"] == "image/jpeg" and response["ETag"]
    restricted = _set(world["photo"], access_mode=AccessMode.RESTRICTED)
    assert client.get("/d/brand/hero").status_code == 404  # the check comes first
    signed = delivery.signed_url(restricted, expires_in=60, transformation="w_32")
    response = client.get(_path(signed["url"]))
    assert response["X-Accel-Redirect"].startswith("/protected/renditions/")


# -- review findings ------------------------------------------------------------------------
def test_dates_out_of_range_are_refused_and_nothing_breaks(client, world):
    photo = world["photo"]
    client.force_login(world["deliverer"])
    url = f"{API}/assets/{photo.pk}"
    for body in ({"expires_at": "0001-01-01T00:00:00+14:00"},
                 {"public_from": "9999-12-31T23:59:59-14:00"},
                 {"public_until": "1900-01-01T00:00:00+00:00"}):  # fmt: skip
        refused = client.patch(url, body, content_type="application/json")
        assert refused.status_code == 422, body
        assert list(refused.json()["errors"]) == list(body)
    far = {"access_mode": "public", "expires_at": "0001-01-01T00:00+05:00"}
    page = client.post(f"/assets/{photo.pk}/access/", far)
    assert page.status_code == 422 and "between 1970 and 9000" in page.content.decode()
    assert client.get(url).status_code == 200
    assert client.get(f"{API}/search?q=hero").status_code == 200


def test_exif_rotated_photos_keep_their_shape(world):
    from dam.testing import image_bytes

    admin = world["admin"]
    raw = Image.open(io.BytesIO(image_bytes(400, 200)))
    exif = raw.getexif()
    exif[0x0112] = 6  # shown turned a quarter: 200×400
    out = io.BytesIO()
    raw.save(out, "JPEG", exif=exif)
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("turned.jpg", out.getvalue())
    asset = services.asset_upload(actor=admin, file=upload, filename="turned.jpg",
                                  folder=world["brand"])  # fmt: skip
    asset = _set(asset, processing_status="ready")
    version = asset.versions.get()
    for text, size in {"w_100": (100, 200), "h_100": (50, 100), "w_100,h_100,c_fit": (50, 100),
                       "w_60,h_60,c_fill": (60, 60)}.items():  # fmt: skip
        _data, w, h = delivery_services.render(version, asset, delivery.parse(text), "png")
        assert (w, h) == size, text


def test_blocked_downloads_cover_every_route(client, world):
    from assets import collection_services

    photo = _set(world["photo"], access_mode=AccessMode.RESTRICTED)
    Preferences.objects.update_or_create(pk=1, defaults={"block_restricted_downloads": True})
    plain = world["plain"]
    client.force_login(plain)
    assert client.get(f"{API}/assets/{photo.pk}/download?version=1").status_code == 403
    assert client.get(f"/assets/{photo.pk}/versions/1/download/").status_code == 403
    zipped = client.post(f"{API}/assets/bulk/download", {"ids": [photo.pk]},
                         content_type="application/json")  # fmt: skip
    assert zipped.status_code == 403
    collection = collection_services.collection_create(actor=world["admin"], name="Launch")
    collection_services.collection_add(actor=world["admin"], collection=collection, ids=[photo.pk])
    collection_services.collection_share(
        actor=world["admin"], collection=collection, principal=plain, level=CollectionLevel.VIEW
    )
    response = client.post(f"/collections/{collection.pk}/items/",
                           {"action": "download", "ids": [photo.pk]})  # fmt: skip
    assert response.status_code == 302 and response["Content-Type"] != "application/zip"
    # Outside its public window or past its expiry an asset is restricted too.
    for fields in ({"public_until": timezone.now() - timedelta(minutes=1)},
                   {"expires_at": timezone.now() - timedelta(minutes=1)}):  # fmt: skip
        _set(photo, access_mode=AccessMode.PUBLIC, public_until=None, expires_at=None)
        _set(photo, **fields)
        assert client.get(f"{API}/assets/{photo.pk}/download").status_code == 403
    # Signing the original is a download too; a transformation is not.
    User = type(plain)
    User.objects.filter(pk=plain.pk).update(can_use_delivery_urls=True)
    url = f"{API}/assets/{photo.pk}/delivery-url"
    assert client.post(url, {}, content_type="application/json").status_code == 403
    made = client.post(url, {"transformation": "t_card"}, content_type="application/json")
    assert made.status_code == 200
    from dam.models import AuditEvent

    assert AuditEvent.objects.filter(verb="asset.delivery_url", object_id=str(photo.pk)).exists()


def test_signed_urls_obey_moderation_and_never_probe(client, world):
    photo = world["photo"]
    spaced = delivery.signed_url(photo, expires_in=60, transformation="h_20, w_50")
    assert "/d/w_50,h_20/brand/hero?" in spaced["url"]  # one spelling, no spaces
    assert client.get(_path(spaced["url"])).status_code == 200
    _set(photo, moderation_status=ModerationStatus.REJECTED)
    assert client.get(_path(spaced["url"])).status_code == 404
    probe = client.get("/d/no/such/thing?expires=99999999999&token=abc")
    assert probe.status_code == 403
    assert client.get("/d/no/such/thing").json()["code"] == "not_found"
    assert client.get("/d/brand/hero?expires=1e999&token=x").status_code == 403
    client.force_login(world["deliverer"])
    bad = client.post(f"{API}/assets/{photo.pk}/delivery-url", {"expires_in": True},
                      content_type="application/json")  # fmt: skip
    assert bad.status_code == 422


def test_caching_validators_and_ranges(client, world):
    photo = world["photo"]
    first = client.get("/d/t_card/brand/hero")
    etag = first["ETag"]
    made = Rendition.objects.filter(spec__startswith="d:").count()
    for given in (etag, f"W/{etag}", "*", f'"other", {etag}'):
        assert client.get("/d/t_card/brand/hero", HTTP_IF_NONE_MATCH=given).status_code == 304
    Rendition.objects.filter(spec__startswith="d:").delete()
    again = client.get("/d/t_card/brand/hero", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and Rendition.objects.filter(spec__startswith="d:").count() == 0
    assert made == 1
    auto = client.get("/d/brand/hero")
    assert auto["Cache-Control"] == "public, max-age=3600"
    _set(photo, public_until=timezone.now() + timedelta(seconds=90))
    soon = client.get("/d/brand/hero")["Cache-Control"]
    assert soon.startswith("public, max-age=") and int(soon.rsplit("=", 1)[1]) <= 90
    whole = b"".join(client.get("/d/brand/hero").streaming_content)
    part = client.get("/d/brand/hero", HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 10-19/{len(whole)}"
    assert b"".join(part.streaming_content) == whole[10:20]
    tail = client.get("/d/brand/hero", HTTP_RANGE="bytes=-5")
    assert b"".join(tail.streaming_content) == whole[-5:]
    assert client.get("/d/brand/hero", HTTP_RANGE=f"bytes={len(whole)}-").status_code == 416
