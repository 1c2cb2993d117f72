import pytest
from django.urls import reverse

from assets.models import Comment
from dam.testing import AdminFactory, UserFactory, make_asset, make_folder

pytestmark = pytest.mark.django_db


def _page_queries(client, asset, django_assert_max_num_queries, limit):
    with django_assert_max_num_queries(limit):
        response = client.get(reverse("assets:detail", args=[asset.pk]))
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("comments", [1, 12])
def test_asset_page_queries_do_not_grow_with_comments(
    client, django_assert_max_num_queries, comments
):
    admin = AdminFactory()
    asset = make_asset(make_folder("/Q", actor=admin), actor=admin)
    for i in range(comments):
        Comment.objects.create(asset=asset, author=UserFactory(), body=f"note {i}")
    client.force_login(admin)
    # 17: the page, and one upsert of its view counter (reports)
    response = _page_queries(client, asset, django_assert_max_num_queries, 17)
    assert response.text.count("note ") >= comments


@pytest.mark.parametrize("count", [2, 8])
def test_zip_download_queries_do_not_grow_with_the_selection(
    client, django_assert_max_num_queries, count
):
    admin = AdminFactory()
    folder = make_folder("/Z", actor=admin)
    ids = [make_asset(folder, actor=admin, name=f"p{i}.jpg").pk for i in range(count)]
    client.force_login(admin)
    with django_assert_max_num_queries(8):
        response = client.post(
            "/api/v1/assets/bulk/download", {"ids": ids}, content_type="application/json"
        )
        body = b"".join(response.streaming_content)
    assert response.status_code == 200 and body[:2] == b"PK"
