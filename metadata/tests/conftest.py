"""Shared set-ups for the metadata tests: the issue's three-level example, built through
the services (the browser test builds it through Settings instead)."""

from __future__ import annotations

import pytest

from dam.testing import AdminFactory
from metadata.demo import build_three_levels


@pytest.fixture
def master(db):
    return AdminFactory(first_name="Meta", last_name="Admin")


@pytest.fixture
def three_levels(master):
    return build_three_levels(master)
