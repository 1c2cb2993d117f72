"""Reading and rendering media files: type sniffing, limits, thumbnails."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from PIL import Image, UnidentifiedImageError

# Pillow format name -> (our format, MIME type)
IMAGE_FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
    "TIFF": ("tiff", "image/tiff"),
}

# Rendition specs: name -> longest edge in pixels.
RENDITION_SPECS = {"thumb": 480, "preview": 1600}


class MediaError(ValueError):
    """The file cannot be accepted; the message is shown to the user as is."""


@dataclass(frozen=True)
class ImageFacts:
    format: str
    mime_type: str
    width: int
    height: int


def probe_image(fileobj: IO[bytes]) -> ImageFacts:
    """Identify an image from its content and check limits before any pixel is decoded."""
    fileobj.seek(0)
    try:
        with Image.open(fileobj) as img:
            pil_format = img.format
            width, height = img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise MediaError(
            "This file is not an image we can read. Supported: JPEG, PNG, GIF, WebP, TIFF."
        ) from None
    except Image.DecompressionBombError:
        raise MediaError("The image has too many pixels to process safely.") from None
    finally:
        fileobj.seek(0)
    if pil_format not in IMAGE_FORMATS:
        raise MediaError(
            f"{pil_format} images are not supported. Supported: JPEG, PNG, GIF, WebP, TIFF."
        )
    if width * height > settings.DAM_MAX_IMAGE_PIXELS:
        raise MediaError(
            f"The image is {width}×{height} pixels; the limit is "
            f"{settings.DAM_MAX_IMAGE_PIXELS:,} pixels."
        )
    fmt, mime = IMAGE_FORMATS[pil_format]
    return ImageFacts(format=fmt, mime_type=mime, width=width, height=height)


def render_specs(fileobj: IO[bytes], specs: dict[str, int]) -> dict[str, tuple[bytes, int, int]]:
    """WebP renditions no larger than each spec's longest edge, from one decode.

    The image is shrunk first (JPEG draft mode lets libjpeg decode at 1/2, 1/4 or 1/8
    scale; reducing_gap resamples cheaply) and only then rotated by its EXIF orientation,
    so a 100-megapixel original never exists twice in memory. Smaller specs are made
    from the largest one.
    """
    if not specs:
        return {}
    largest = max(specs.values())
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
    out: dict[str, tuple[bytes, int, int]] = {}
    for spec, edge in sorted(specs.items(), key=lambda item: -item[1]):
        image = base.copy()
        image.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, "WEBP", quality=82, method=4)
        out[spec] = (buffer.getvalue(), image.width, image.height)
    return out


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
