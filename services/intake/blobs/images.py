"""Photo uploads: checked by content (magic bytes via ``filetype``), bounded in size, stored by hash."""

from __future__ import annotations

from dataclasses import dataclass

import filetype
from starlette.datastructures import UploadFile

from shared.errors import PayloadTooLarge, UnsupportedMedia

__all__ = ["ALLOWED_IMAGE_TYPES", "PayloadTooLarge", "Photo", "UnsupportedMedia", "image_type", "read_photo"]

ALLOWED_IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp"}
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Photo:
    field: str
    data: bytes
    content_type: str
    filename: str | None = None


def image_type(data: bytes) -> str | None:
    """The MIME type if ``data`` is a JPEG, PNG or WebP image by its content, else None."""
    kind = filetype.guess(data[:8192])
    if kind is None or kind.mime not in ALLOWED_IMAGE_TYPES:
        return None
    return str(kind.mime)


async def read_photo(upload: UploadFile, field: str, max_bytes: int) -> Photo:
    """Read at most ``max_bytes`` (refusing more) and check the content is an allowed image."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"{field}: photo exceeds {max_bytes} bytes", field=field, limit=max_bytes)
        chunks.append(chunk)
    data = b"".join(chunks)
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
    return Photo(field=field, data=data, content_type=mime, filename=upload.filename)
