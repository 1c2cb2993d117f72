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
    response = _page_queries(client, asset, django_assert_max_num_queries, 16)
    assert response.text.count("note ") >= comments
