"""Reading and rendering media files: type sniffing, limits, renditions, facts.

The type of a file comes from its content (magic bytes, then the format's own parser),
never from its name; the name only serves to refuse content that contradicts it.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import math
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

try:  # HEIC/HEIF through libheif; optional so a missing wheel only disables HEIC
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIC_SUPPORTED = True
except ImportError:  # pragma: no cover - pinned in requirements.txt
    HEIC_SUPPORTED = False

# Pillow format name -> (our format, MIME type)
IMAGE_FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
    "TIFF": ("tiff", "image/tiff"),
    "HEIF": ("heic", "image/heic"),
}
SUPPORTED = "JPEG, PNG, GIF, WebP, TIFF, HEIC, SVG, MP4, MOV, WebM, PDF, office documents, text"

# Rendition specs: name -> longest edge in pixels.
RENDITION_SPECS = {"thumb": 480, "preview": 1600}

_HEAD = 64 * 1024
_CHUNK = 1024 * 1024


class MediaError(ValueError):
    """The file cannot be accepted; the message is shown to the user as is."""


@dataclass(frozen=True)
class Probe:
    type: str  # "image" | "video" | "raw"
    format: str
    mime_type: str
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    pages: int | None = None
    replacement: bytes | None = None  # store these bytes instead of the upload (SVG)


# Kept for callers of the old name: an image probe is a Probe.
ImageFacts = Probe


# -- probing -------------------------------------------------------------------------

# Extension -> family of formats its content may have. Unknown extensions prove nothing.
_RASTER = frozenset({"jpg", "png", "gif", "webp", "tiff", "heic"})
_VIDEO_FORMATS = frozenset({"mp4", "mov", "webm"})
_ZIPS = {"zip", "docx", "xlsx", "pptx", "odt", "ods", "odp"}
# Extension -> formats its content may have (a renamed picture is still that picture, a
# renamed video still a video). Unknown extensions prove nothing.
_EXT_FAMILY = {
    **dict.fromkeys(("jpg", "jpeg", "jpe", "png", "gif", "webp", "tif", "tiff"), _RASTER),
    **dict.fromkeys(("heic", "heif"), _RASTER),
    "svg": {"svg"},
    **dict.fromkeys(("mp4", "m4v", "mov", "webm"), _VIDEO_FORMATS),
    "pdf": {"pdf"},
    **{ext: {ext} for ext in ("docx", "xlsx", "pptx", "odt", "ods", "odp")},
    "zip": _ZIPS,
    **dict.fromkeys(("txt", "csv", "md", "tsv"), frozenset({"txt", "csv"})),
}
_FORBIDDEN_EXT = {"exe", "dll", "com", "bat", "cmd", "sh", "ps1", "msi", "html", "htm", "xhtml"}

# Long enough that compressed pixels do not match by chance (< 2^-40 per byte).
_MARKUP = re.compile(rb"<(script|html|iframe|body)[\s>/]|<\?php\s", re.IGNORECASE)
_HTML_START = re.compile(
    rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body|script|iframe)\b",
    re.IGNORECASE | re.DOTALL,
)


def probe(fileobj: IO[bytes], filename: str = "") -> Probe:
    """Identify a file from its content and check it is safe and within limits.

    Raises MediaError with a user-facing reason for executables, HTML, polyglots,
    content that contradicts the name's extension, unsupported or unreadable content,
    and images over settings.DAM_MAX_IMAGE_PIXELS (checked before decoding).
    """
    fileobj.seek(0)
    head = fileobj.read(_HEAD)
    fileobj.seek(0)
    if not head:
        raise MediaError("The file is empty.")
    ext = os.path.splitext(filename or "")[1].lower().lstrip(".")
    if ext in _FORBIDDEN_EXT:
        raise MediaError(f"“.{ext}” files are not accepted (executables and web pages).")
    _refuse_executable(head)
    family = _EXT_FAMILY.get(ext)
    guessed = _magic_format(head)
    if family is not None and guessed is not None and guessed not in family:
        _mismatch(ext, guessed)  # before any parser runs: a clear reason, cheaply
    result = _sniff(fileobj, head)
    if result.format in _RASTER | _VIDEO_FORMATS:
        _refuse_polyglot(fileobj, result.format)
    if family is not None and result.format not in family:
        _mismatch(ext, result.format)
    return result


def _mismatch(ext: str, fmt: str):
    what = "not an image we can read" if ext in _IMAGE_EXT else "not what its name says"
    raise MediaError(
        f"This file is {what}: it is named “.{ext}” but its content is {fmt.upper()}. "
        "Rename it or upload the right file."
    )


_IMAGE_EXT = {"jpg", "jpeg", "jpe", "png", "gif", "webp", "tif", "tiff", "heic", "heif", "svg"}


def _magic_format(head: bytes) -> str | None:
    """The format the first bytes announce, without parsing (None: not sure)."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if b"%PDF-" in head[:1024]:
        return "pdf"
    return None


def probe_image(fileobj: IO[bytes]) -> Probe:
    """Probe a file that must be a raster image."""
    result = probe(fileobj, "")
    if result.type != "image" or result.format == "svg":
        raise MediaError(f"This file is not an image we can read. Supported: {SUPPORTED}.")
    return result


def _refuse_executable(head: bytes) -> None:
    if head[:2] == b"MZ" or head[:4] == b"\x7fELF":
        raise MediaError("Executable programs are not accepted.")
    if head[:4] in (
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
    ):
        raise MediaError("Executable programs are not accepted.")
    if head.lstrip(b"\xef\xbb\xbf")[:2] == b"#!":
        raise MediaError("Scripts are not accepted.")


def _refuse_polyglot(fileobj: IO[bytes], fmt: str) -> None:
    """Media carrying markup, a PDF header or a zip directory is two files in one."""
    fileobj.seek(0)
    tail = b""
    offset = 0
    try:
        while chunk := fileobj.read(_CHUNK):
            window = tail + chunk
            if fmt not in _VIDEO_FORMATS and _MARKUP.search(window):
                raise MediaError(
                    f"This {fmt.upper()} file also contains web page code (a polyglot); "
                    "it is not accepted."
                )
            if offset == 0 and b"%PDF-" in window[:1024]:
                raise MediaError(f"This {fmt.upper()} file is also a PDF (a polyglot).")
            tail = window[-64:]
            offset += len(chunk)
        fileobj.seek(max(0, offset - 65_557))
        if b"PK\x05\x06" in fileobj.read():
            raise MediaError(f"This {fmt.upper()} file is also a zip archive (a polyglot).")
    finally:
        fileobj.seek(0)


def _sniff(fileobj: IO[bytes], head: bytes) -> Probe:
    if head[:3] == b"\xff\xd8\xff" or head[:8] == b"\x89PNG\r\n\x1a\n":
        return _probe_raster(fileobj)
    if head[:6] in (b"GIF87a", b"GIF89a") or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return _probe_raster(fileobj)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return _probe_raster(fileobj)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"):
            if not HEIC_SUPPORTED:
                raise MediaError("HEIC images are not supported on this server.")
            return _probe_raster(fileobj)
        return _probe_video(fileobj, "mov" if brand == b"qt  " else "mp4")
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip") and head[:4] != b"RIFF":
        return _probe_video(fileobj, "mov")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return _probe_video(fileobj, "webm")
    if b"%PDF-" in head[:1024]:
        return _probe_pdf(fileobj)
    if head[:4] == b"PK\x03\x04":
        return _probe_zip(fileobj)
    return _probe_text(fileobj, head)


def _pixel_limit(width: int, height: int) -> None:
    if width * height > settings.DAM_MAX_IMAGE_PIXELS:
        raise MediaError(
            f"The image is {width}×{height} pixels; the limit is "
            f"{settings.DAM_MAX_IMAGE_PIXELS:,} pixels."
        )


def _probe_raster(fileobj: IO[bytes]) -> Probe:
    fileobj.seek(0)
    try:
        with Image.open(fileobj) as img:  # reads the header only
            pil_format = img.format
            width, height = img.size
    except Image.DecompressionBombError:
        raise MediaError("The image has too many pixels to process safely.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise MediaError(
            f"This file is not an image we can read. Supported: {SUPPORTED}."
        ) from None
    finally:
        fileobj.seek(0)
    if pil_format not in IMAGE_FORMATS:
        raise MediaError(f"{pil_format} images are not supported. Supported: {SUPPORTED}.")
    _pixel_limit(width, height)
    fmt, mime = IMAGE_FORMATS[pil_format]
    return Probe(type="image", format=fmt, mime_type=mime, width=width, height=height)


@contextlib.contextmanager
def _local_path(fileobj: IO[bytes], suffix: str = ""):
    """A filesystem path with the file's bytes, for tools that need one (ffmpeg)."""
    path = getattr(fileobj, "temporary_file_path", None)
    if callable(path):
        yield path()
        return
    raw = getattr(fileobj, "file", fileobj)  # a django File around a real file on disk
    name = getattr(raw, "name", None)
    if isinstance(name, str) and os.path.isabs(name) and os.path.isfile(name):
        yield name
        return
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        fileobj.seek(0)
        shutil.copyfileobj(fileobj, tmp, _CHUNK)
        tmp.flush()
        fileobj.seek(0)
        yield tmp.name


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})")
_FPS = re.compile(r"([\d.]+) fps")


def _ffmpeg_info(path: str) -> dict:
    proc = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", path],
        capture_output=True,
        timeout=60,
        check=False,
    )
    text = proc.stderr.decode("utf-8", "replace")
    info: dict = {}
    if m := _DURATION.search(text):
        h, mi, s = m.groups()
        info["duration"] = round(int(h) * 3600 + int(mi) * 60 + float(s), 3)
    for line in text.splitlines():
        if " Video: " in line and (m := _VIDEO.search(line)):
            info["codec"] = m.group(1)
            info["width"], info["height"] = int(m.group(2)), int(m.group(3))
            if f := _FPS.search(line):
                info["fps"] = float(f.group(1))
            break
    return info


def _probe_video(fileobj: IO[bytes], fmt: str) -> Probe:
    with _local_path(fileobj, "." + fmt) as path:
        info = _ffmpeg_info(path)
    if "width" not in info:
        raise MediaError("This video has no picture we can read; it may be damaged.")
    _pixel_limit(info["width"], info["height"])
    mime = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}[fmt]
    return Probe(
        type="video",
        format=fmt,
        mime_type=mime,
        width=info["width"],
        height=info["height"],
        duration=info.get("duration"),
    )


def _open_pdf(fileobj: IO[bytes]):
    import pypdfium2 as pdfium

    fileobj.seek(0)
    try:
        return pdfium.PdfDocument(fileobj)
    except pdfium.PdfiumError:
        raise MediaError("This PDF cannot be read; it may be damaged or encrypted.") from None


def _probe_pdf(fileobj: IO[bytes]) -> Probe:
    pdf = _open_pdf(fileobj)
    try:
        pages = len(pdf)
        if not pages:
            raise MediaError("This PDF has no pages.")
        width, height = pdf[0].get_size()
    finally:
        pdf.close()
        fileobj.seek(0)
    return Probe(
        type="raw",
        format="pdf",
        mime_type="application/pdf",
        width=round(width),
        height=round(height),
        pages=pages,
    )


_OFFICE = {
    "word/": ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "xl/": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "ppt/": ("pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
}
_ODF = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
    b"application/vnd.oasis.opendocument.presentation": "odp",
}


def _probe_zip(fileobj: IO[bytes]) -> Probe:
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                mimetype = archive.read("mimetype")[:100].strip()
                if mimetype in _ODF:
                    return Probe(type="raw", format=_ODF[mimetype], mime_type=mimetype.decode())
    except (zipfile.BadZipFile, OSError, EOFError):
        raise MediaError("This zip archive cannot be read; it may be damaged.") from None
    finally:
        fileobj.seek(0)
    if "[Content_Types].xml" in names:
        for prefix, (fmt, mime) in _OFFICE.items():
            if any(name.startswith(prefix) for name in names):
                return Probe(type="raw", format=fmt, mime_type=mime)
    return Probe(type="raw", format="zip", mime_type="application/zip")


def _probe_text(fileobj: IO[bytes], head: bytes) -> Probe:
    if b"\x00" in head:
        _refuse_other_image(fileobj)
        raise MediaError(f"This file type is not supported. Supported: {SUPPORTED}.")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the window's end
            raise MediaError(f"This file type is not supported. Supported: {SUPPORTED}.") from None
        text = head[: exc.start].decode("utf-8")
    stripped = text.lstrip("\ufeff \t\r\n")
    if _HTML_START.match(stripped.encode()):
        raise MediaError("Web pages (HTML) are not accepted.")
    if re.match(r"<\?xml|<svg\b|<!--", stripped):
        if re.search(r"<svg\b", stripped):
            return _probe_svg(fileobj)
        if re.search(r"<html\b|xhtml", stripped, re.IGNORECASE):
            raise MediaError("Web pages (XHTML) are not accepted.")
    if _MARKUP.search(head):
        raise MediaError("This text file contains web page code; it is not accepted.")
    if _looks_like_csv(stripped):
        return Probe(type="raw", format="csv", mime_type="text/csv")
    return Probe(type="raw", format="txt", mime_type="text/plain")


def _refuse_other_image(fileobj: IO[bytes]) -> None:
    """Name the format of a picture Pillow knows but we do not accept (BMP, ICO...)."""
    fileobj.seek(0)
    try:
        with Image.open(fileobj) as img:
            name = img.format
    except Exception:
        return
    finally:
        fileobj.seek(0)
    raise MediaError(f"{name} images are not supported. Supported: {SUPPORTED}.")


def _looks_like_csv(text: str) -> bool:
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t")
    except csv.Error:
        return False
    widths = {len(row) for row in csv.reader(lines, dialect)}
    return len(widths) == 1 and widths.pop() > 1


# -- SVG -----------------------------------------------------------------------------

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK = "{http://www.w3.org/1999/xlink}href"
_SVG_FORBIDDEN = {
    "script",
    "foreignobject",
    "iframe",
    "embed",
    "object",
    "handler",
    "listener",
    "audio",
    "video",
}
_CSS_URL = re.compile(r"url\s*\(\s*['\"]?\s*(?!#)|@import|expression\s*\(", re.IGNORECASE)
_MAX_SVG_BYTES = 5 * 1024 * 1024


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _probe_svg(fileobj: IO[bytes]) -> Probe:
    """SVG is accepted only when nothing in it can run or fetch; it is stored re-serialized."""
    import xml.etree.ElementTree as ET

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    fileobj.seek(0)
    data = fileobj.read(_MAX_SVG_BYTES + 1)
    fileobj.seek(0)
    if len(data) > _MAX_SVG_BYTES:
        raise MediaError("SVG files are limited to 5 MB.")
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise MediaError("SVG files with a DOCTYPE or entities are not accepted.") from None
    except ET.ParseError:
        raise MediaError("This SVG is not well-formed XML.") from None
    if root.tag not in (f"{{{_SVG_NS}}}svg", "svg"):
        raise MediaError("This XML file is not an SVG image.")
    for element in root.iter():
        name = _local(element.tag).lower()
        if name in _SVG_FORBIDDEN:
            raise MediaError(f"SVG images with a <{_local(element.tag)}> element are not accepted.")
        if name == "style":
            css = "".join(element.itertext())
            # Children hide rules in their tails; backslashes hide @import behind escapes.
            if len(element) or "\\" in css or "@import" in css.lower() or _CSS_URL.search(css):
                raise MediaError("SVG images with external references in styles are not accepted.")
        if name in ("animate", "set") and _local(
            element.attrib.get("attributeName", "")
        ).lower() in ("href", "xlink:href"):
            raise MediaError("SVG images that animate links are not accepted.")
        for attr, value in element.attrib.items():
            attr_name = _local(attr).lower()
            if attr_name.startswith("on"):
                raise MediaError(f"SVG images with event handlers ({attr_name}) are not accepted.")
            if attr_name == "href" and not value.strip().startswith("#"):
                raise MediaError("SVG images with external references are not accepted.")
            # Browsers drop whitespace and control characters inside URLs.
            squashed = re.sub(r"[\x00-\x20\x7f]+", "", value).lower()
            if "javascript:" in squashed or _CSS_URL.search(value):
                raise MediaError("SVG images with external references are not accepted.")
    width, height = _svg_size(root)
    ET.register_namespace("", _SVG_NS)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    clean = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Probe(
        type="image",
        format="svg",
        mime_type="image/svg+xml",
        width=width,
        height=height,
        replacement=clean,
    )


def _svg_length(value: str | None) -> int | None:
    m = re.fullmatch(r"\s*([\d.]+)\s*(px)?\s*", value or "")
    return round(float(m.group(1))) if m else None


def _svg_size(root) -> tuple[int | None, int | None]:
    width, height = _svg_length(root.get("width")), _svg_length(root.get("height"))
    if (width is None or height is None) and root.get("viewBox"):
        try:
            _, _, w, h = (float(p) for p in re.split(r"[\s,]+", root.get("viewBox").strip()))
            width, height = width or round(w), height or round(h)
        except ValueError:
            pass
    return width, height


# -- rendering -----------------------------------------------------------------------


def render_specs(
    fileobj: IO[bytes], probe: Probe | dict[str, int] | None = None, specs=None
) -> dict[str, tuple[bytes, int, int]]:
    """WebP renditions no larger than each spec's longest edge, one decode per file.

    Images: JPEG draft mode lets libjpeg decode at 1/2, 1/4 or 1/8 scale, reducing_gap
    resamples cheaply, and the image is rotated by its EXIF orientation only after
    shrinking. Video: a poster frame at 1 s (ffmpeg). PDF: the first page with pdfium at
    the scale of the largest spec. SVG and other files: a typed icon (we have no SVG
    rasteriser without a new native dependency).
    """
    if specs is None:  # old signature render_specs(fileobj, specs)
        probe, specs = None, probe
    if not specs:
        return {}
    largest = max(specs.values())
    if probe is None or (probe.type == "image" and probe.format != "svg"):
        base = _raster_base(fileobj, largest)
    elif probe.type == "video":
        base = _video_poster(fileobj, probe, largest)
    elif probe.format == "pdf":
        base = _pdf_page(fileobj, largest)
    else:
        base = _icon(probe.format, largest)
    return _encode(base, specs)


def _encode(base: Image.Image, specs: dict[str, int]) -> dict[str, tuple[bytes, int, int]]:
    out: dict[str, tuple[bytes, int, int]] = {}
    for spec, edge in sorted(specs.items(), key=lambda item: -item[1]):
        image = base.copy()
        image.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, "WEBP", quality=82, method=4)
        out[spec] = (buffer.getvalue(), image.width, image.height)
    return out


def _raster_base(fileobj: IO[bytes], largest: int) -> Image.Image:
    fileobj.seek(0)
    with Image.open(fileobj) as img:
        if img.width * img.height > settings.DAM_MAX_IMAGE_PIXELS:
            raise MediaError("The image has too many pixels to process safely.")
        orientation = img.getexif().get(ORIENTATION_TAG, 1)
        img.draft("RGB", (largest, largest))
        if img.mode not in ("RGB", "RGBA"):
            img = img.convert("RGBA" if "A" in img.getbands() or img.mode == "P" else "RGB")
        img.thumbnail((largest, largest), Image.Resampling.LANCZOS, reducing_gap=3.0)
        base = _apply_orientation(img, orientation)
        base.load()  # an image already small enough is still lazy; read it before closing
    return base


def _video_poster(fileobj: IO[bytes], probe: Probe, largest: int) -> Image.Image:
    seek = "1" if (probe.duration or 0) > 1.5 else "0"
    with _local_path(fileobj, "." + probe.format) as path:
        for at in dict.fromkeys((seek, "0")):
            proc = subprocess.run(
                [
                    ffmpeg_exe(),
                    "-hide_banner",
                    "-nostdin",
                    "-loglevel",
                    "error",
                    "-ss",
                    at,
                    "-i",
                    path,
                    "-frames:v",
                    "1",
                    "-vf",
                    f"scale='min({largest},iw)':-2",
                    "-f",
                    "image2pipe",
                    "-vcodec",
                    "png",
                    "-",
                ],
                capture_output=True,
                timeout=120,
                check=False,
            )
            if proc.stdout:
                break
        else:
            raise MediaError("No frame could be read from this video; it may be damaged.")
    with Image.open(io.BytesIO(proc.stdout)) as frame:
        frame = frame.convert("RGB")
        frame.thumbnail((largest, largest), Image.Resampling.LANCZOS)
        return frame


def _pdf_page(fileobj: IO[bytes], largest: int) -> Image.Image:
    pdf = _open_pdf(fileobj)
    try:
        page = pdf[0]
        width, height = page.get_size()
        scale = min(largest / max(width, height, 1), 10.0)
        image = page.render(scale=scale).to_pil().convert("RGB")
    finally:
        pdf.close()
        fileobj.seek(0)
    image.thumbnail((largest, largest), Image.Resampling.LANCZOS)
    return image


@functools.lru_cache(maxsize=64)
def _icon_png(fmt: str, edge: int) -> bytes:
    """A document shape with a folded corner and the format as a label; cached per format."""
    edge = max(64, edge)
    img = Image.new("RGBA", (edge, edge), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    w, h = edge * 0.62, edge * 0.8
    x0, y0 = (edge - w) / 2, (edge - h) / 2
    fold = w * 0.28
    body = [(x0, y0), (x0 + w - fold, y0), (x0 + w, y0 + fold), (x0 + w, y0 + h), (x0, y0 + h)]
    draw.polygon(
        body, fill=(245, 246, 248, 255), outline=(120, 128, 140, 255), width=max(2, edge // 120)
    )
    draw.polygon(
        [(x0 + w - fold, y0), (x0 + w - fold, y0 + fold), (x0 + w, y0 + fold)],
        fill=(205, 210, 218, 255),
    )
    colour = {
        "pdf": (200, 40, 40),
        "docx": (40, 90, 180),
        "odt": (40, 90, 180),
        "xlsx": (30, 130, 70),
        "ods": (30, 130, 70),
        "csv": (30, 130, 70),
        "pptx": (210, 90, 30),
        "odp": (210, 90, 30),
        "svg": (140, 60, 170),
    }.get(fmt, (90, 100, 115))
    band = (x0 - w * 0.08, y0 + h * 0.55, x0 + w * 0.92, y0 + h * 0.78)
    draw.rectangle(band, fill=(*colour, 255))
    label = fmt.upper()[:5]
    font = ImageFont.load_default(size=max(10, int((band[3] - band[1]) * 0.7)))
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    draw.text(
        (
            (band[0] + band[2] - (right - left)) / 2 - left,
            (band[1] + band[3] - (bottom - top)) / 2 - top,
        ),
        label,
        font=font,
        fill=(255, 255, 255, 255),
    )
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


def _icon(fmt: str, edge: int) -> Image.Image:
    return Image.open(io.BytesIO(_icon_png(fmt, min(edge, 512)))).copy()


ORIENTATION_TAG = 0x0112
_TRANSPOSE = {
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_270],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_90],
}


def _apply_orientation(img: Image.Image, orientation: int) -> Image.Image:
    for op in _TRANSPOSE.get(orientation, []):
        img = img.transpose(op)
    return img


def render_thumbnail(fileobj: IO[bytes], longest_edge: int) -> tuple[bytes, int, int]:
    """One WebP rendition no larger than `longest_edge`."""
    return render_specs(fileobj, {"one": longest_edge})["one"]


# -- facts ---------------------------------------------------------------------------

_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825


def extract_facts(fileobj: IO[bytes], probe: Probe) -> dict:
    """What we know about a file, as JSON-ready values. Keys (present when known):

    - width, height (px; PDF: points of page 1), duration (s), pages
    - exif: {make, model, datetime_original, orientation, exposure_time, f_number, iso,
      gps (bool: GPS data present)}
    - iptc: {title, creator, copyright} from IPTC or XMP
    - icc_profile: the colour profile's description
    - colors: up to 5 [{"hex": "#rrggbb", "share": 0..1}], largest share first
    - phash: 64-bit perceptual hash as 16 hex characters (also on Asset.phash)
    - video: {codec, fps}
    """
    facts: dict = {
        key: value
        for key, value in (
            ("mime_type", probe.mime_type),
            ("width", probe.width),
            ("height", probe.height),
            ("duration", probe.duration),
            ("pages", probe.pages),
        )
        if value is not None
    }
    small = None
    if probe.type == "image" and probe.format != "svg":
        fileobj.seek(0)
        with Image.open(fileobj) as img:
            facts.update(_image_metadata(img))
            img.draft("RGB", (128, 128))
            small = img.convert("RGB")
            small.thumbnail((128, 128))
    elif probe.type == "video":
        with _local_path(fileobj, "." + probe.format) as path:
            info = _ffmpeg_info(path)
        facts["video"] = {k: info[k] for k in ("codec", "fps") if k in info}
        small = _video_poster(fileobj, probe, 128)
    elif probe.format == "pdf":
        small = _pdf_page(fileobj, 128)
    fileobj.seek(0)
    if small is not None:
        facts["colors"] = dominant_colors(small)
        facts["phash"] = phash(small)
    return facts


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
        return _text(value)
    return str(value).strip("\x00 ").strip() or None if value is not None else None


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return round(number, 6) if math.isfinite(number) else None


def _image_metadata(img: Image.Image) -> dict:
    out: dict = {}
    exif = img.getexif()
    sub = exif.get_ifd(_EXIF_IFD) if exif else {}
    fields = {
        "make": _text(exif.get(0x010F)),
        "model": _text(exif.get(0x0110)),
        "datetime_original": _text(sub.get(0x9003) or exif.get(0x0132)),
        "orientation": exif.get(ORIENTATION_TAG),
        "exposure_time": _number(sub.get(0x829A)),
        "f_number": _number(sub.get(0x829D)),
        "iso": sub.get(0x8827) if isinstance(sub.get(0x8827), int) else None,
    }
    if exif:
        fields["gps"] = bool(exif.get_ifd(_GPS_IFD)) or _GPS_IFD in exif
    exif_out = {k: v for k, v in fields.items() if v is not None}
    if exif_out:
        out["exif"] = exif_out
    iptc = _iptc(img) | {k: v for k, v in _xmp(img).items() if v}
    if iptc:
        out["iptc"] = iptc
    if icc := img.info.get("icc_profile"):
        try:
            from PIL import ImageCms

            description = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
            out["icc_profile"] = description.strip() or "embedded"
        except Exception:  # a damaged profile is not worth failing the file for
            out["icc_profile"] = "embedded (unreadable)"
    return out


def _iptc(img: Image.Image) -> dict:
    from PIL import IptcImagePlugin

    try:
        info = IptcImagePlugin.getiptcinfo(img) or {}
    except Exception:
        return {}
    keys = {"title": (2, 5), "creator": (2, 80), "copyright": (2, 116)}
    return {k: v for k, key in keys.items() if (v := _text(info.get(key)))}


_XMP_FIELD = {
    "title": re.compile(r"<dc:title>.*?<rdf:li[^>]*>(.*?)</rdf:li>", re.DOTALL),
    "creator": re.compile(r"<dc:creator>.*?<rdf:li[^>]*>(.*?)</rdf:li>", re.DOTALL),
    "copyright": re.compile(r"<dc:rights>.*?<rdf:li[^>]*>(.*?)</rdf:li>", re.DOTALL),
}


def _xmp(img: Image.Image) -> dict:
    raw = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp")
    if not raw:
        return {}
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return {k: m.group(1).strip() for k, rx in _XMP_FIELD.items() if (m := rx.search(text))}


def dominant_colors(img: Image.Image, count: int = 5) -> list[dict]:
    small = img.convert("RGB")
    small.thumbnail((64, 64))
    quantized = small.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    colours = sorted(quantized.getcolors() or [], reverse=True)
    total = sum(n for n, _ in colours) or 1
    out = []
    for n, index in colours[:count]:
        r, g, b = palette[index * 3 : index * 3 + 3]
        out.append({"hex": f"#{r:02x}{g:02x}{b:02x}", "share": round(n / total, 3)})
    return out


_DCT = [[math.cos(math.pi * (2 * x + 1) * u / 64) for x in range(32)] for u in range(8)]


def phash(img: Image.Image) -> str:
    """64-bit pHash: DCT of a 32x32 greyscale copy, low 8x8 frequencies vs their median."""
    grey = img.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    pixels = list(grey.tobytes())
    rows = [pixels[y * 32 : (y + 1) * 32] for y in range(32)]
    # Separable 2D DCT, only the 8 lowest frequencies per axis.
    row_dct = [
        [sum(c * p for c, p in zip(_DCT[u], row, strict=True)) for u in range(8)] for row in rows
    ]
    coeffs = [
        sum(_DCT[v][y] * row_dct[y][u] for y in range(32)) for v in range(8) for u in range(8)
    ]
    median = sorted(coeffs[1:])[31]
    bits = 0
    for value in coeffs:
        bits = (bits << 1) | (value > median)
    return f"{bits:016x}"


def phash_distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")
