"""Reading and rendering media files: type sniffing, limits, thumbnails."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

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


def render_thumbnail(fileobj: IO[bytes], longest_edge: int) -> tuple[bytes, int, int]:
    """A WebP no larger than `longest_edge`, decoding as little as the format allows."""
    with Image.open(fileobj) as img:
        if img.width * img.height > settings.DAM_MAX_IMAGE_PIXELS:
            raise MediaError("The image has too many pixels to process safely.")
        # JPEG draft mode lets libjpeg decode at 1/2, 1/4 or 1/8 scale.
        img.draft("RGB", (longest_edge, longest_edge))
        img = ImageOps.exif_transpose(img)
        if img.mode not in ("RGB", "RGBA"):
            img = img.convert("RGBA" if "A" in img.getbands() or img.mode == "P" else "RGB")
        img.thumbnail((longest_edge, longest_edge), Image.Resampling.LANCZOS, reducing_gap=3.0)
        out = io.BytesIO()
        img.save(out, "WEBP", quality=82, method=4)
        return out.getvalue(), img.width, img.height
