"""Photo uploads: checked by content (magic bytes via ``filetype``), decoded in full with Pillow before they
are stored (a fake or truncated image is refused), bounded in size and pixels, stored by hash.

A photo carrying EXIF metadata (GPS position, camera serial, time) is re-encoded without it: the photo is
served to anyone holding its URL, so it must not say where the citizen lives. Other photos are stored
byte for byte as uploaded.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

import filetype
from PIL import Image, ImageOps
from starlette.datastructures import UploadFile

from shared.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia

__all__ = [
    "ALLOWED_IMAGE_TYPES",
    "BadImage",
    "CheckedImage",
    "PayloadTooLarge",
    "Photo",
    "UnsupportedMedia",
    "check_image",
    "image_type",
    "read_photo",
]

ALLOWED_IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}
_PIL_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_CHUNK = 64 * 1024
DEFAULT_MAX_PIXELS = 40_000_000


class BadImage(InvalidInput):
    """The content claims to be an image but does not decode (fake, truncated, too many pixels): 422."""

    code = "invalid_photo"


@dataclass(frozen=True)
class Photo:
    field: str
    data: bytes
    content_type: str
    filename: str | None = None


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    content_type: str
    width: int
    height: int
    stripped_metadata: bool


def image_type(data: bytes) -> str | None:
    """The MIME type if ``data`` is a JPEG, PNG or WebP image by its magic bytes, else None (no decoding)."""
    kind = filetype.guess(data[:8192])
    if kind is None or kind.mime not in ALLOWED_IMAGE_TYPES:
        return None
    return str(kind.mime)


def _strip_metadata(image: Image.Image, fmt: str) -> bytes:
    """Re-encode without EXIF (orientation applied to the pixels first, so the photo still looks right)."""
    upright = ImageOps.exif_transpose(image)
    out = io.BytesIO()
    if fmt == "JPEG":
        if upright.mode not in ("RGB", "L", "CMYK"):
            upright = upright.convert("RGB")
        upright.save(out, "JPEG", quality=90, optimize=True)
    elif fmt == "WEBP":
        upright.save(out, "WEBP", quality=90)
    else:
        upright.save(out, "PNG", optimize=True)
    return out.getvalue()


def check_image(data: bytes, field: str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> CheckedImage:
    """Decode ``data`` completely. 415 when it is not a JPEG/PNG/WebP at all; 422 (naming ``field``) when it
    claims to be one but does not decode, is truncated, or has more than ``max_pixels`` pixels."""
    if not data:
        raise UnsupportedMedia(f"{field}: empty file", field=field)
    mime = image_type(data)
    if mime is None:
        guessed = filetype.guess(data[:8192])
        what = guessed.mime if guessed else "unknown content"
        raise UnsupportedMedia(
            f"{field}: only JPEG, PNG or WebP photos are accepted (got {what})",
            field=field,
            accepted=sorted(ALLOWED_IMAGE_TYPES),
        )
    try:
        image = Image.open(io.BytesIO(data), formats=list(_PIL_FORMATS))
        width, height = image.size
        if width * height > max_pixels:  # checked before the pixels are decoded (decompression bomb)
            raise BadImage(
                f"{field}：图片像素过多（{width}×{height}，上限 {max_pixels} 像素）", field=field, limit=max_pixels
            )
        image.verify()  # the file's structure (PNG: every chunk's CRC up to IEND)
        image = Image.open(io.BytesIO(data), formats=list(_PIL_FORMATS))  # verify() leaves it unusable
        image.load()  # decodes every pixel: a truncated or fake file fails here
        fmt = image.format or ""
        if _PIL_FORMATS.get(fmt) != mime:
            raise BadImage(f"{field}：图片内容与格式不符，无法解码", field=field)
        has_exif = bool(image.getexif()) or "exif" in image.info
        stored = _strip_metadata(image, fmt) if has_exif else data
    except BadImage:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise BadImage(f"{field}：图片已损坏或不完整，无法解码（{exc.__class__.__name__}）", field=field) from exc
    return CheckedImage(data=stored, content_type=mime, width=width, height=height, stripped_metadata=has_exif)


async def read_photo(upload: UploadFile, field: str, max_bytes: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Read at most ``max_bytes`` (refusing more), then decode it (in a thread) with :func:`check_image`."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"{field}: photo exceeds {max_bytes} bytes", field=field, limit=max_bytes)
        chunks.append(chunk)
    checked = await asyncio.to_thread(check_image, b"".join(chunks), field, max_pixels=max_pixels)
    return Photo(field=field, data=checked.data, content_type=checked.content_type, filename=upload.filename)
