"""Fixtures for the user lifecycle tests."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from dam.models import Preferences

LINK = re.compile(r"https?://\S+/accounts/set-password/\S+/")


def link_path(message) -> str:
    """The path of the set-password link in an email."""
    match = LINK.search(message.body)
    assert match, message.body
    return "/" + match.group(0).split("/", 3)[3]


@pytest.fixture
def outbox():
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def seat_limit():
    def set_limit(limit):
        Preferences.objects.update_or_create(pk=1, defaults={"seat_limit": limit})

    return set_limit
