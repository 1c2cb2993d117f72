"""`bench renditions`: thumbnails per second and peak memory, our render path vs libvips.

Generates photo-like files (smooth colour fields, gradients and fine grain, so encoders
and decoders do real work): --images each of 12- and 24-megapixel JPEGs and 4-megapixel
PNGs. For each kind and engine, a child process makes a --edge px WebP thumbnail of
every file, one after the other:

- atrium: `assets.media.render_specs` (JPEG draft mode, reducing_gap, orientation);
- vips: `vipsthumbnail` from Debian's libvips-tools (shrink-on-load, its default threads);
- vips-1t: the same with VIPS_CONCURRENCY=1 (one core, like our worker).

Time per image = (time on N files − time on one tiny file) / N, best of --repeat runs:
for vipsthumbnail the wall time of the process, for ours the time of the render loop
measured inside the child (Django's start-up is not part of a worker's per-file cost). Memory
per image = the child's peak RSS (ru_maxrss from wait4) on the real files − its peak on
the tiny file. Prints a Markdown table with the ratios atrium/vips (time: lower is
better for us; memory: lower is better for us).

No database is used; the command still gets its own (empty) bench database like every
benchmark.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management import CommandError

from dam.management.benchmarks import Benchmark, markdown_table, positive_int, register

KINDS = (  # name, size, Pillow format, extension
    ("JPEG 12 MP", (4000, 3000), "JPEG", "jpg"),
    ("JPEG 24 MP", (6000, 4000), "JPEG", "jpg"),
    ("PNG 4 MP", (2448, 1632), "PNG", "png"),
)

_ATRIUM_CHILD = r"""
import os, sys
sys.path.insert(0, os.environ["DAM_BENCH_ROOT"])
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dam.settings")
django.setup()
from assets.media import render_specs
import time
edge, out_dir, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
started = time.perf_counter()
for path in paths:
    with open(path, "rb") as fh:
        data, w, h = render_specs(fh, None, {"thumb": edge})["thumb"]
    with open(os.path.join(out_dir, os.path.basename(path) + ".webp"), "wb") as out:
        out.write(data)
with open(os.environ["DAM_BENCH_TIMING"], "w") as timing:
    timing.write(str(time.perf_counter() - started))
"""


def add_arguments(parser) -> None:
    parser.add_argument(
        "--images", type=positive_int, default=4, help="Files of each kind (default 4)."
    )
    parser.add_argument(
        "--edge", type=positive_int, default=400, help="Thumbnail longest edge (default 400)."
    )
    parser.add_argument(
        "--repeat", type=positive_int, default=3, help="Runs per engine; best kept (default 3)."
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="Scale the file sizes' edges (tests use a small value; default 1).",
    )


def validate(options: dict) -> None:
    if not 0 < options["scale"] <= 1:
        raise CommandError("--scale must be in (0, 1].")
    if shutil.which("vipsthumbnail") is None:
        raise CommandError(
            "vipsthumbnail is missing: install Debian's libvips-tools "
            "(apt-get install -y --no-install-recommends libvips-tools; `make test` does)."
        )


def photo_like(size: tuple[int, int], seed: int):
    """Smooth colour fields plus a gradient and fine grain: compresses like a photo."""
    from PIL import Image, ImageChops

    w, h = size
    fields = [
        Image.effect_noise((max(8, w // 100), max(6, h // 100)), 70 + 10 * ((seed + i) % 3))
        .resize(size, Image.Resampling.BICUBIC)
        .point(lambda v, k=i + seed: (v * (3 + k % 2) // 3) % 256)
        for i in range(3)
    ]
    img = Image.merge("RGB", fields)
    gradient = Image.linear_gradient("L").resize(size).convert("RGB")
    img = Image.blend(img, gradient, 0.25)
    grain = Image.effect_noise(size, 18).convert("RGB")
    return ImageChops.add(img, grain, scale=1.0, offset=-128)


def generate(work: Path, count: int, scale: float, say) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for name, (w, h), fmt, ext in KINDS:
        size = (max(16, round(w * scale)), max(16, round(h * scale)))
        started = time.perf_counter()
        paths = []
        for i in range(count):
            path = work / f"{ext}-{size[0]}x{size[1]}-{i}.{ext}"
            img = photo_like(size, i)
            img.save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
            paths.append(path)
        files[name] = paths
        mb = sum(p.stat().st_size for p in paths) / count / 1e6
        say(
            f"  {count} × {name} ({size[0]}×{size[1]}, {mb:.1f} MB each) "
            f"in {time.perf_counter() - started:.1f} s"
        )
    return files


# Runs one command and reports its wall time and peak RSS. It is itself a fresh, small
# process: Linux counts a forked child's pre-exec memory in its ru_maxrss, so children
# forked straight from this (large) Django process would all report its size.
_LAUNCHER = r"""
import json, os, subprocess, sys, time
started = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_pid, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - started
print(json.dumps([wall, usage.ru_maxrss, os.waitstatus_to_exitcode(status)]))
"""


def _run_child(command: list[str], env: dict) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one child process."""
    import json

    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _LAUNCHER, *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        wall, rss, code = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        code, wall, rss = proc.returncode or 1, 0, 0
    if code:
        raise CommandError(f"{command[0]} failed ({code}): {proc.stderr[-2000:]}")
    return wall, rss


def _engines(edge: int, out: Path) -> dict[str, tuple]:
    base_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    vips = shutil.which("vipsthumbnail")
    target = f"{out}/%s.vips.webp[Q=82]"
    return {
        "atrium": (
            lambda paths: [sys.executable, "-c", _ATRIUM_CHILD, str(edge), str(out), *paths],
            {**base_env, "DEBUG": "false", "DAM_BENCH_ROOT": str(settings.BASE_DIR)},
        ),
        "vips": (
            lambda paths: [vips, "-s", f"{edge}x{edge}", "-o", target, *paths],
            base_env,
        ),
        "vips-1t": (
            lambda paths: [vips, "-s", f"{edge}x{edge}", "-o", target, *paths],
            {**base_env, "VIPS_CONCURRENCY": "1"},
        ),
    }


def measure(files: dict[str, list[Path]], tiny: Path, options: dict, out: Path) -> dict:
    results: dict = {}
    for engine, (command, env) in _engines(options["edge"], out).items():
        timing = out.parent / "timing"
        env = {**env, "DAM_BENCH_TIMING": str(timing)}

        def once(paths, env=env, command=command, timing=timing):
            wall, rss = _run_child(command(paths), env)
            if timing.exists():  # our child times its own loop: no start-up in it
                wall = float(timing.read_text())
                timing.unlink()
            return wall, rss

        base_wall = min(once([str(tiny)])[0] for _ in range(5))
        base_rss = once([str(tiny)])[1]
        for kind, paths in files.items():
            runs = [once([str(p) for p in paths]) for _ in range(options["repeat"])]
            wall = min(w for w, _ in runs)
            peak = max(r for _, r in runs)
            per_image = max(wall - base_wall, 1e-6) / len(paths)
            results[engine, kind] = {
                "per_image": per_image,
                "per_second": 1 / per_image,
                "memory_mb": max(peak - base_rss, 0) / 1024,
                "peak_mb": peak / 1024,
            }
    return results


def report(results: dict, files: dict, say) -> None:
    rows = []
    for kind in files:
        ours = results["atrium", kind]
        for ref in ("vips", "vips-1t"):
            theirs = results[ref, kind]
            rows.append(
                [
                    kind,
                    ref,
                    f"{ours['per_second']:.1f}",
                    f"{theirs['per_second']:.1f}",
                    f"{ours['per_image'] / theirs['per_image']:.2f}x",
                    f"{ours['memory_mb']:.0f} ({ours['peak_mb']:.0f})",
                    f"{theirs['memory_mb']:.0f} ({theirs['peak_mb']:.0f})",
                    f"{(ours['memory_mb'] + 1) / (theirs['memory_mb'] + 1):.2f}x",
                ]
            )
    say(
        markdown_table(
            [
                "files",
                "vs",
                "atrium thumbs/s",
                "vips thumbs/s",
                "time ratio (atrium/vips)",
                "atrium MB/image (peak RSS)",
                "vips MB/image (peak RSS)",
                "memory ratio",
            ],
            rows,
            numeric=range(2, 8),
        )
    )
    say(
        "\nTime ratio > 1 means our path is slower. MB/image is the child's peak RSS above "
        "its own start-up peak (one tiny file); memory ratio is (atrium+1)/(vips+1) MB."
    )


def run(out, options: dict, db) -> None:
    say = out.write
    validate(options)
    version = subprocess.run(
        ["vips", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    from PIL import __version__ as pillow

    say(
        f"bench renditions: {options['images']} file(s) per kind, {options['edge']} px WebP "
        f"thumbnails, best of {options['repeat']}; Pillow {pillow}, {version or 'vips ?'}, "
        f"{os.cpu_count()} CPUs, DAM_MAX_IMAGE_PIXELS={settings.DAM_MAX_IMAGE_PIXELS:,}"
    )
    with tempfile.TemporaryDirectory(prefix="dam-bench-renditions-") as tmp:
        work = Path(tmp)
        (work / "out").mkdir()
        say("Generating files…")
        files = generate(work, options["images"], options["scale"], say)
        from PIL import Image

        tiny = work / "tiny.jpg"
        Image.new("RGB", (64, 48), (120, 130, 140)).save(tiny, "JPEG")
        say("Measuring…")
        results = measure(files, tiny, options, work / "out")
        made = len(list((work / "out").iterdir()))
        say(f"  {made} thumbnails written\n")
        report(results, files, say)


register(
    Benchmark(
        name="renditions",
        help=(
            "Thumbnails per second and peak memory per image of our render path vs libvips "
            "(vipsthumbnail) on generated 12/24 MP JPEGs and 4 MP PNGs."
        ),
        add_arguments=add_arguments,
        run=run,
        validate=validate,
        default_database="dam_bench_renditions",
    )
)
