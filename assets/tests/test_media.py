"""assets.media: content sniffing, refusals, renditions and facts for every accepted type.

All media is generated here (Pillow, pypdfium2's PDF reader on Pillow's PDF writer, the
ffmpeg shipped by imageio-ffmpeg); nothing is downloaded.
"""

import io
import struct
import subprocess
import zipfile
import zlib

import pytest
from PIL import Image, ImageCms, ImageDraw, ImageFilter

from assets import media
from assets.media import MediaError, extract_facts, phash_distance, probe, render_specs


def image_bytes(fmt="JPEG", size=(320, 240), color=(200, 30, 30), **save) -> bytes:
    img = Image.new("RGB", size, color)
    ImageDraw.Draw(img).ellipse((20, 20, size[0] // 2, size[1] // 2), fill=(30, 30, 200))
    out = io.BytesIO()
    img.save(out, fmt, **save)
    return out.getvalue()


def photo_like(seed: int, size=(256, 192)) -> Image.Image:
    """Shapes and gradients: content with structure, so pHash has something to see."""
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(img)
    for i in range(6):
        x = (seed * 37 + i * 53) % size[0]
        y = (seed * 91 + i * 29) % size[1]
        draw.ellipse((x, y, x + 60, y + 45), fill=((seed * 80 + i * 40) % 256, 120, 200 - i * 20))
    return img


def pdf_bytes(pages=2) -> bytes:
    images = [Image.new("RGB", (200, 300), (255, 255, 255)) for _ in range(pages)]
    ImageDraw.Draw(images[0]).rectangle((20, 20, 180, 120), fill=(0, 0, 0))
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return out.getvalue()


def video_bytes(tmp_path, fmt: str) -> bytes:
    path = tmp_path / f"clip.{fmt}"
    codec = ["-c:v", "libvpx", "-b:v", "200k"] if fmt == "webm" else ["-pix_fmt", "yuv420p"]
    subprocess.run(
        [
            media.ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=2:size=320x240:rate=10",
            *codec,
            str(path),
        ],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


def docx_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    b'width="120" height="80" viewBox="0 0 120 80"><defs><linearGradient id="g"/></defs>'
    b'<!-- a comment --><rect width="120" height="80" fill="url(#g)"/>'
    b'<use xlink:href="#g"/></svg>'
)


def run(data: bytes, name: str):
    return probe(io.BytesIO(data), name)


# -- accepted types ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "name", "ours", "mime"),
    [
        ("JPEG", "a.jpg", "jpg", "image/jpeg"),
        ("PNG", "a.png", "png", "image/png"),
        ("GIF", "a.gif", "gif", "image/gif"),
        ("WEBP", "a.webp", "webp", "image/webp"),
        ("TIFF", "a.tiff", "tiff", "image/tiff"),
    ],
)
def test_raster_images_are_identified_by_content(fmt, name, ours, mime):
    found = run(image_bytes(fmt), name)
    assert (found.type, found.format, found.mime_type) == ("image", ours, mime)
    assert (found.width, found.height) == (320, 240)
    assert found.replacement is None


def test_heic_is_accepted_when_pillow_heif_is_installed():
    if not media.HEIC_SUPPORTED:
        pytest.fail("pillow-heif is pinned in requirements.txt but not installed")
    found = run(image_bytes("HEIF", quality=60), "a.heic")
    assert (found.type, found.format, found.mime_type) == ("image", "heic", "image/heic")
    rendered = render_specs(io.BytesIO(image_bytes("HEIF")), found, {"t": 100})
    assert rendered["t"][1:] == (100, 75)


def test_a_renamed_picture_is_still_a_picture():
    assert run(image_bytes("PNG"), "scan.jpg").format == "png"


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_video_duration_and_size_come_from_ffmpeg(tmp_path, fmt):
    found = run(video_bytes(tmp_path, fmt), f"clip.{fmt}")
    assert (found.type, found.format) == ("video", fmt)
    assert found.mime_type == f"video/{fmt}"
    assert (found.width, found.height) == (320, 240)
    assert found.duration == pytest.approx(2.0, abs=0.2)


def test_mov_named_mp4_is_the_same_family(tmp_path):
    data = video_bytes(tmp_path, "mov")
    found = run(data, "clip.mp4")
    assert found.type == "video" and found.format in {"mov", "mp4"}


def test_pdf_pages_and_first_page_size():
    found = run(pdf_bytes(pages=3), "doc.pdf")
    assert (found.type, found.format, found.mime_type) == ("raw", "pdf", "application/pdf")
    assert found.pages == 3
    assert (found.width, found.height) == (200, 300)


def test_office_documents_by_zip_structure():
    found = run(docx_bytes(), "report.docx")
    assert (found.type, found.format) == ("raw", "docx")
    assert found.mime_type.endswith("wordprocessingml.document")


def test_csv_and_plain_text():
    assert run(b"name,size\nsun,big\nmoon,small\n", "data.csv").format == "csv"
    assert run("plain notes, with ünïcode\n".encode(), "notes.txt").format == "txt"


def test_clean_svg_is_accepted_and_stored_reserialized():
    found = run(SVG, "logo.svg")
    assert (found.type, found.format, found.mime_type) == ("image", "svg", "image/svg+xml")
    assert (found.width, found.height) == (120, 80)
    assert found.replacement is not None
    assert b"comment" not in found.replacement
    assert run(found.replacement, "logo.svg").format == "svg"


# -- refused -------------------------------------------------------------------------


def png_with(extra_chunk: bytes) -> bytes:
    data = image_bytes("PNG")
    chunk = b"tEXt" + extra_chunk
    blob = struct.pack(">I", len(extra_chunk)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return data[:33] + blob + data[33:]  # right after IHDR


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (png_with(b"Comment\x00<html><script>alert(1)</script>"), "a.png", "polyglot"),
        (image_bytes("JPEG") + b"<script>alert(1)</script>", "a.jpg", "polyglot"),
        (pdf_bytes(), "photo.jpg", "content is PDF"),
        (b"MZ\x90\x00" + b"\x00" * 200, "setup.png", "Executable"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "tool", "Executable"),
        (b"\xcf\xfa\xed\xfe" + b"\x00" * 200, "tool", "Executable"),
        (b"#!/bin/sh\nrm -rf /\n", "run.txt", "Scripts"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "page.txt", "HTML"),
        (b"  <html><script>x()</script></html>", "page", "HTML"),
        (b"<p>hi</p>", "page.html", "not accepted"),
        (b"\x00\x01\x02\x03binary junk" * 10, "blob.bin", "not supported"),
    ],
)
def test_dangerous_or_mismatched_content_is_refused(data, name, reason):
    with pytest.raises(MediaError, match=reason):
        run(data, name)


def test_image_zip_polyglot_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("a.txt", "hi")
    with pytest.raises(MediaError, match="zip archive"):
        run(image_bytes("JPEG") + out.getvalue(), "a.jpg")


def bomb_png(width=100_000, height=100_000) -> bytes:
    """A valid PNG header claiming 10 gigapixels; the data would inflate to gigabytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = zlib.compress(b"\x00" * 1_000_000, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", len(idat))
        + b"IDAT"
        + idat
        + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    )


def test_decompression_bomb_fails_cleanly_before_decoding():
    with pytest.raises(MediaError, match="pixels"):
        run(bomb_png(), "bomb.png")


def test_pixel_limit_from_settings(settings):
    settings.DAM_MAX_IMAGE_PIXELS = 10_000
    with pytest.raises(MediaError, match="limit is 10,000 pixels"):
        run(image_bytes("PNG"), "a.png")


@pytest.mark.parametrize(
    ("svg", "reason"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "script"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "event handlers"),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>x</p></foreignObject></svg>',
            "foreignObject",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
            b'<image xlink:href="https://evil.example/x.png"/></svg>',
            "external references",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"/></svg>',
            "external references",
        ),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://x.example/a.css);'
            b"</style></svg>",
            "styles",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>',
            "DOCTYPE or entities",
        ),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><rect></svg>", "well-formed"),
    ],
)
def test_unsafe_svg_is_refused(svg, reason):
    with pytest.raises(MediaError, match=reason):
        run(svg, "logo.svg")


# -- renditions ----------------------------------------------------------------------


def render(data: bytes, name: str, specs=None):
    found = run(data, name)
    return render_specs(io.BytesIO(data), found, specs or {"thumb": 160, "preview": 400})


def check_webp(out, thumb_box, preview_box):
    for spec, box in (("thumb", thumb_box), ("preview", preview_box)):
        data, width, height = out[spec]
        with Image.open(io.BytesIO(data)) as img:
            assert img.format == "WEBP"
            assert img.size == (width, height) == box


def test_image_renditions_keep_aspect_and_orientation():
    img = Image.new("RGB", (400, 200), (10, 200, 10))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    check_webp(render(out.getvalue(), "a.jpg"), (80, 160), (200, 400))


def test_video_poster(tmp_path):
    check_webp(render(video_bytes(tmp_path, "mp4"), "c.mp4"), (160, 120), (320, 240))
    check_webp(render(video_bytes(tmp_path, "webm"), "c.webm"), (160, 120), (320, 240))


def test_pdf_first_page():
    out = render(pdf_bytes(), "d.pdf")
    check_webp(out, (107, 160), (267, 400))
    with Image.open(io.BytesIO(out["preview"][0])) as img:
        assert img.convert("RGB").getpixel((130, 80))[0] < 40  # the black box of page 1
        assert img.convert("RGB").getpixel((130, 300))[0] > 215


@pytest.mark.parametrize(
    ("data", "name"),
    [(docx_bytes(), "r.docx"), (b"a,b\n1,2\n", "x.csv"), (SVG, "logo.svg")],
)
def test_documents_and_svg_get_a_typed_icon(data, name):
    out = render(data, name)
    check_webp(out, (160, 160), (400, 400))


def test_icons_are_cached_per_format():
    media._icon_png.cache_clear()
    render(docx_bytes(), "r.docx")
    render(docx_bytes(), "s.docx")
    assert media._icon_png.cache_info().hits >= 1


# -- facts ---------------------------------------------------------------------------


def test_exif_essentials():
    img = Image.new("RGB", (64, 48), (100, 100, 100))
    exif = img.getexif()
    exif[0x010F] = "Atrium Cam"
    exif[0x0110] = "Model 7"
    exif[0x0112] = 1
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2024:05:06 07:08:09"
    sub[0x829A] = 0.004
    sub[0x8827] = 200
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 29.0)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    facts = extract_facts(io.BytesIO(out.getvalue()), run(out.getvalue(), "a.jpg"))
    assert facts["exif"] == {
        "make": "Atrium Cam",
        "model": "Model 7",
        "datetime_original": "2024:05:06 07:08:09",
        "orientation": 1,
        "exposure_time": 0.004,
        "iso": 200,
        "gps": True,
    }
    assert (facts["width"], facts["height"]) == (64, 48)


def test_icc_profile_and_xmp():
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description>'
        b"<dc:title><rdf:Alt><rdf:li xml:lang='x-default'>Harbour</rdf:li></rdf:Alt></dc:title>"
        b"<dc:creator><rdf:Seq><rdf:li>Ada</rdf:li></rdf:Seq></dc:creator>"
        b"</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    data = image_bytes("JPEG", icc_profile=icc, xmp=xmp)
    facts = extract_facts(io.BytesIO(data), run(data, "a.jpg"))
    assert "sRGB" in facts["icc_profile"]
    assert facts["iptc"] == {"title": "Harbour", "creator": "Ada"}


def test_dominant_colour_of_a_red_image_is_red():
    data = image_bytes("PNG", color=(220, 20, 25))
    facts = extract_facts(io.BytesIO(data), run(data, "red.png"))
    top = facts["colors"][0]
    r, g, b = (int(top["hex"][i : i + 2], 16) for i in (1, 3, 5))
    assert r > 180 and g < 60 and b < 60
    assert top["share"] > 0.6
    assert len(facts["colors"]) <= 5


def test_perceptual_hash_is_close_for_near_copies_and_far_otherwise():
    original = photo_like(1)
    near = original.filter(ImageFilter.GaussianBlur(1)).resize((250, 188))
    brighter = original.point(lambda v: min(255, v + 12))
    other = photo_like(7).transpose(Image.Transpose.ROTATE_180)
    h = media.phash(original)
    assert len(h) == 16
    assert phash_distance(h, media.phash(near)) <= 6
    assert phash_distance(h, media.phash(brighter)) <= 6
    assert phash_distance(h, media.phash(other)) > 16


def test_video_and_pdf_facts(tmp_path):
    data = video_bytes(tmp_path, "mp4")
    facts = extract_facts(io.BytesIO(data), run(data, "c.mp4"))
    assert facts["video"] == {"codec": "h264", "fps": 10.0}
    assert facts["duration"] == pytest.approx(2.0, abs=0.2)
    assert len(facts["phash"]) == 16
    data = pdf_bytes(pages=4)
    facts = extract_facts(io.BytesIO(data), run(data, "d.pdf"))
    assert facts["pages"] == 4 and len(facts["phash"]) == 16


def test_raw_facts_are_never_empty():
    data = docx_bytes()
    assert extract_facts(io.BytesIO(data), run(data, "r.docx")) == {
        "mime_type": run(data, "r.docx").mime_type
    }


@pytest.mark.parametrize(
    "svg",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><a href="#x"><animate attributeName="href" '
        b'values="java&#9;script:alert(1)"/></a></svg>',
        b'<svg xmlns="http://www.w3.org/2000/svg"><a href="java&#9;script:alert(1)">x</a></svg>',
        b'<svg xmlns="http://www.w3.org/2000/svg"><style><x/>@import url(https://e/a.css);'
        b"</style></svg>",
        b'<svg xmlns="http://www.w3.org/2000/svg"><style>@\\69mport "https://e/a.css";</style></svg>',
    ],
)
def test_svg_tricks_are_refused(svg):
    with pytest.raises(MediaError):
        probe(io.BytesIO(svg), "x.svg")
