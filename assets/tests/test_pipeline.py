"""The real pipeline: API upload -> commit -> Celery worker process -> renditions."""

import time

import pytest

from accounts.services import api_token_create
from assets.models import Asset, ProcessingStatus, Rendition
from dam.testing import AdminFactory, image_upload, make_folder

pytestmark = pytest.mark.pipeline


def _wait_until(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def test_api_upload_is_thumbnailed_by_a_real_worker(real_worker, client):
    admin = AdminFactory()
    folder = make_folder("/Pipeline", actor=admin)
    _, token = api_token_create(user=admin, name="pipeline")

    response = client.post(
        "/api/v1/assets",
        {"file": image_upload("big.jpg", width=2400, height=1600), "folder": folder.pk},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 201, response.content
    asset_id = response.json()["id"]
    assert response.json()["processing_status"] == "processing"

    def processed():
        return Asset.objects.get(pk=asset_id).processing_status != ProcessingStatus.PROCESSING

    assert _wait_until(processed), real_worker["log"].read_text()
    asset = Asset.objects.get(pk=asset_id)
    assert asset.processing_status == ProcessingStatus.READY, asset.processing_error
    renditions = {r.spec: r for r in Rendition.objects.filter(version__asset=asset)}
    assert set(renditions) == {"thumb", "preview"}
    assert max(renditions["thumb"].width, renditions["thumb"].height) == 480
    assert max(renditions["preview"].width, renditions["preview"].height) == 1600
    assert "process_version[" in real_worker["log"].read_text()

    thumb = client.get(
        f"/api/v1/assets/{asset_id}", headers={"Authorization": f"Bearer {token}"}
    ).json()["thumbnail_url"]
    client.force_login(admin)
    image = client.get(thumb)
    assert image.status_code == 200
    assert image["Content-Type"] == "image/webp"
