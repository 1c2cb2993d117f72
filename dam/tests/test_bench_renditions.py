"""`manage.py bench renditions` end to end on a few small generated files."""

from __future__ import annotations

import re
import secrets
import shutil
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from dam.management.benchmarks import database as bench_db

ROW = re.compile(
    r"^\| (JPEG 12 MP|JPEG 24 MP|PNG 4 MP) \| (vips|vips-1t) \| ([\d.]+) \| ([\d.]+) \| "
    r"([\d.]+)x \| (\d+) \((\d+)\) \| (\d+) \((\d+)\) \| ([\d.]+)x \|$",
    re.M,
)


@pytest.fixture
def throwaway():
    name = f"dam_bench_test_{secrets.token_hex(4)}"
    target = bench_db.resolve(bench_db.url_for(settings.DATABASES["default"], name), "unused")
    yield target
    bench_db.drop(target, say=lambda _line: None)


def test_bench_renditions_compares_with_vipsthumbnail(throwaway):
    assert shutil.which("vipsthumbnail"), (
        "vipsthumbnail is missing: install Debian's libvips-tools "
        "(`make test` does it as root: apt-get install -y --no-install-recommends libvips-tools)"
    )
    out = StringIO()
    call_command(
        "bench",
        "renditions",
        "--images",
        "2",
        "--scale",
        "0.15",
        "--repeat",
        "1",
        "--database-url",
        throwaway.url,
        "--drop",
        stdout=out,
    )
    text = out.getvalue()
    assert "| files | vs | atrium thumbs/s | vips thumbs/s |" in text, text
    rows = ROW.findall(text)
    assert {(kind, ref) for kind, ref, *_ in rows} == {
        (kind, ref)
        for kind in ("JPEG 12 MP", "JPEG 24 MP", "PNG 4 MP")
        for ref in ("vips", "vips-1t")
    }, text
    written = int(re.search(r"(\d+) thumbnails written", text).group(1))
    assert written >= 12  # 6 files × (ours + vips), plus the start-up probes
