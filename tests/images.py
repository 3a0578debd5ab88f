"""Real, tiny image files made in memory for upload tests."""

from __future__ import annotations

import struct
import zlib


def png(width: int = 3, height: int = 2) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x20\x80\xff" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def jpeg(width: int = 8, height: int = 6, *, gps: bool = False, color: tuple[int, int, int] = (32, 128, 255)) -> bytes:
    """A real JPEG (Pillow); with ``gps`` it carries EXIF GPS tags, as phone photos do."""
    import io

    from PIL import Image

    image = Image.new("RGB", (width, height), color)
    out = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"
        exif[0x8825] = {1: "N", 2: (30.0, 40.0, 12.5), 3: "E", 4: (104.0, 6.0, 30.0)}  # GPSInfo: 成都
        image.save(out, "JPEG", exif=exif)
    else:
        image.save(out, "JPEG")
    return out.getvalue()


#: 22 bytes that start like a JPEG (SOI + JFIF APP0 header) and end with EOI, with no image in between.
FAKE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
