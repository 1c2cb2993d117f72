"""Playwright fixtures for the browser tests, driving Debian's Chromium.

Registered from the root conftest.py (`pytest_plugins`). Provides:

- `browser` (session): one headless Chromium launched from /usr/bin/chromium;
- `page` (per test): a fresh browser context (1366x860) and page; on failure a screenshot
  is saved to test-artifacts/screenshots/failed-TESTNAME.png;
- `login(page, base_url, email, password=PASSWORD)`: log in through the real login form;
- `screenshot(page, name)`: save test-artifacts/screenshots/NAME.png (git-ignored).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an asyncio event loop in the main thread; without this,
# Django ORM calls made by the test itself raise SynchronousOnlyOperation.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 860}
DEFAULT_TIMEOUT_MS = 10_000
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT_DIR = ROOT / "test-artifacts" / "screenshots"


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of the page as test-artifacts/screenshots/NAME.png and return its path."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "screenshot"
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{safe}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def login(page, base_url: str, email: str, password: str | None = None) -> None:
    """Log in through the real login form and wait until the app has left the form."""
    from dam.testing import PASSWORD

    page.goto(f"{str(base_url).rstrip('/')}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD if password is None else password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so `page` can tell whether the test failed."""
    report = yield
    setattr(item, f"_browser_rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def _playwright():
    if not CHROMIUM.exists():
        pytest.fail(
            f"Browser tests need Debian's Chromium at {CHROMIUM}, which is missing. "
            "Install it with `apt-get install chromium` (`make test` does this when it can).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(_playwright):
    """One headless Chromium for the whole session."""
    browser = _playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh context and page per test; a screenshot is saved when the test fails."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = getattr(request.node, "_browser_rep_call", None)
    if report is not None and report.failed:
        try:
            screenshot(page, f"failed-{request.node.name}")
        except Exception as exc:  # never hide the test's own failure
            print(f"could not save failure screenshot: {exc}")
    context.close()
