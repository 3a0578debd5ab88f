"""Blob store and photo checks: content addressing, atomic local files, S3 without boto3, magic bytes."""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
from pathlib import Path

import pytest
from starlette.datastructures import UploadFile

from services.intake.blobs import BlobStoreError, LocalBlobStore, S3BlobStore, is_sha256, make_blob_store
from services.intake.blobs.images import (
    BadImage,
    PayloadTooLarge,
    UnsupportedMedia,
    check_image,
    image_type,
    read_photo,
)
from shared.settings import Settings
from tests.images import FAKE_JPEG, jpeg, png

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
WEBP = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8 " + b"\x00" * 22
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


def test_local_store_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = png()
    digest = asyncio.run(store.put(data))
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.path(digest) == tmp_path / "blobs" / digest[:2] / digest[2:4] / digest
    assert asyncio.run(store.put(data)) == digest  # stored once
    assert asyncio.run(store.get(digest)) == data
    assert asyncio.run(store.exists(digest))
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert files == [store.path(digest)]  # no temp files left behind


def test_local_store_refuses_non_digests(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    assert asyncio.run(store.get("../../etc/passwd")) is None
    assert asyncio.run(store.get("A" * 64)) is None
    assert not asyncio.run(store.exists("0" * 63))
    with pytest.raises(ValueError):
        store.path("../x")
    assert is_sha256("0" * 64) and not is_sha256("0" * 65)


def test_make_blob_store_from_settings(tmp_path: Path) -> None:
    local = make_blob_store(Settings(var_dir=tmp_path))
    assert isinstance(local, LocalBlobStore) and local.root == tmp_path / "blobs"
    assert make_blob_store(Settings(blob_dir=tmp_path / "x")).root == tmp_path / "x"  # type: ignore[union-attr]
    with pytest.raises(BlobStoreError, match="unknown"):
        make_blob_store(Settings(blob_backend="ftp"))


def test_s3_store_says_clearly_what_it_needs() -> None:
    with pytest.raises(BlobStoreError, match="bucket"):
        S3BlobStore("")
    try:
        import boto3  # type: ignore[import-not-found,import-untyped,unused-ignore]  # noqa: F401
    except ImportError:
        with pytest.raises(BlobStoreError, match="boto3"):
            make_blob_store(Settings(blob_backend="s3", blob_s3_bucket="photos"))


def test_image_types_by_content() -> None:
    assert image_type(png()) == "image/png"
    assert image_type(JPEG) == "image/jpeg"
    assert image_type(WEBP) == "image/webp"
    assert image_type(GIF) is None
    assert image_type(b"%PDF-1.4 not an image") is None
    assert image_type(b"") is None


def _upload(data: bytes, name: str = "x.png") -> UploadFile:
    return UploadFile(io.BytesIO(data), filename=name)


def test_read_photo_checks_content_not_the_name() -> None:
    photo = asyncio.run(read_photo(_upload(png(), "looks.gif"), "photos[0]", 1000))
    assert photo.content_type == "image/png"
    with pytest.raises(UnsupportedMedia, match=r"photos\[1\].*image/gif"):
        asyncio.run(read_photo(_upload(GIF, "fake.png"), "photos[1]", 1000))
    with pytest.raises(UnsupportedMedia, match="empty"):
        asyncio.run(read_photo(_upload(b""), "photos[2]", 1000))


def test_read_photo_stops_at_the_limit() -> None:
    big = png() + b"\x00" * 5000
    with pytest.raises(PayloadTooLarge, match=r"photos\[0\].*1000 bytes") as info:
        asyncio.run(read_photo(_upload(big), "photos[0]", 1000))
    assert info.value.status_code == 413
    assert info.value.to_body()["field"] == "photos[0]"


def test_photos_are_decoded_not_just_sniffed() -> None:
    # the magic bytes say JPEG, the content is no image: 422 naming the photo
    with pytest.raises(BadImage, match=r"photos\[0\]") as info:
        asyncio.run(read_photo(_upload(FAKE_JPEG, "fake.jpg"), "photos[0]", 1000))
    assert info.value.status_code == 422 and info.value.to_body()["fields"][0]["field"] == "photos[0]"
    real = jpeg(40, 30)
    for cut in (len(real) // 2, len(real) - 2):
        with pytest.raises(BadImage):
            check_image(real[:cut], "photos[1]")
    with pytest.raises(BadImage):
        check_image(png()[:-13], "photos[2]")  # IDAT/IEND cut
    assert check_image(real, "p").content_type == "image/jpeg"


def test_decompression_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(BadImage, match="像素"):
        check_image(png(300, 200), "photos[0]", max_pixels=300 * 200 - 1)
    assert check_image(png(300, 200), "photos[0]", max_pixels=300 * 200).width == 300


def test_exif_gps_is_stripped_other_photos_kept_byte_for_byte() -> None:
    from PIL import Image

    with_gps = jpeg(gps=True)
    assert Image.open(io.BytesIO(with_gps)).getexif().get_ifd(0x8825)  # the fixture really carries GPS
    checked = check_image(with_gps, "photos[0]")
    assert checked.stripped_metadata and checked.data != with_gps
    cleaned = Image.open(io.BytesIO(checked.data))
    assert not cleaned.getexif() and cleaned.size == (8, 6)
    plain = png()
    assert check_image(plain, "photos[0]").data == plain
