"""dam.links: a URL per id without reversing for every id, equal to reverse()."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.urls.base import get_script_prefix, set_script_prefix

from dam import links


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("assets:detail", ()),
        ("assets:rendition", ("thumb",)),
        ("assets:folder", ()),
        ("assets:tile", ()),
    ],
)
@pytest.mark.parametrize("pk", [1, 7, 120, 2**62])
def test_id_path_is_what_reverse_gives(name, args, pk):
    assert links.id_path(name, pk, *args) == reverse(name, args=[pk, *args])


def test_each_script_prefix_gets_its_own_halves():
    before = get_script_prefix()
    try:
        set_script_prefix("/dam/")
        mounted = links.id_path("assets:detail", 5)
        set_script_prefix("/")
        plain = links.id_path("assets:detail", 5)
    finally:
        set_script_prefix(before)
    assert mounted == "/dam" + plain
    assert plain == reverse("assets:detail", args=[5])


def test_a_url_that_does_not_split_cleanly_is_reversed_each_time(monkeypatch):
    """If the sentinel id showed up twice (or not at all), the split would be wrong: the
    helper then calls reverse() for every id instead."""
    calls = []

    def fake_reverse(name, args):
        calls.append(args[0])
        return f"/x/{args[0]}/{args[0]}/"

    monkeypatch.setattr(links, "reverse", fake_reverse)
    monkeypatch.setattr(links, "_HALVES", {})
    assert links.id_path("fake", 3) == "/x/3/3/"
    assert links.id_path("fake", 4) == "/x/4/4/"
    assert calls == [links._SENTINEL, 3, 4]


@pytest.mark.django_db
def test_tiles_link_like_reverse(client):
    """The library's tiles and folder cards use the tag: their links are the real ones."""
    from dam.testing import AdminFactory, make_asset, make_folder

    admin = AdminFactory()
    parent = make_folder("/Links", actor=admin)
    child = make_folder("/Links/Child", actor=admin)
    asset = make_asset(parent, actor=admin)
    type(asset).objects.filter(pk=asset.pk).update(processing_status="ready", version=2)
    client.force_login(admin)
    page = client.get(reverse("assets:folder", args=[parent.pk])).content.decode()
    assert f'href="{reverse("assets:detail", args=[asset.pk])}"' in page
    assert f'href="{reverse("assets:folder", args=[child.pk])}"' in page
    thumb = reverse("assets:rendition", args=[asset.pk, "thumb"])
    assert f'src="{thumb}?v=2"' in page
