"""Blobs are stored under their SHA-256 (hex): the same photo twice is stored once.

- :class:`LocalBlobStore` — files under ``<root>/<aa>/<bb>/<sha256>``, written atomically;
- :class:`S3BlobStore` — any S3-compatible store through ``boto3`` (only if installed);
- :func:`make_blob_store` — picks one from the settings (``LINKAGE_BLOB_BACKEND``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from shared.settings import Settings

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobStoreError(RuntimeError):
    """The blob store is misconfigured or unreachable."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_sha256(value: str) -> bool:
    return bool(_SHA256.match(value))


class BlobStore(Protocol):
    async def put(self, data: bytes) -> str:
        """Store ``data``; returns its sha256 (hex). Storing the same bytes again is a no-op."""
        ...

    async def get(self, digest: str) -> bytes | None:
        """The bytes stored under ``digest``, or None."""
        ...

    async def exists(self, digest: str) -> bool: ...


class LocalBlobStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        if not is_sha256(digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def put_sync(self, data: bytes) -> str:
        digest = sha256_hex(data)
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get_sync(self, digest: str) -> bytes | None:
        if not is_sha256(digest):
            return None
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError:
            return None

    async def put(self, data: bytes) -> str:
        return await asyncio.to_thread(self.put_sync, data)

    async def get(self, digest: str) -> bytes | None:
        return await asyncio.to_thread(self.get_sync, digest)

    async def exists(self, digest: str) -> bool:
        return is_sha256(digest) and self.path(digest).exists()


class S3BlobStore:
    """S3-compatible store (AWS, MinIO, Ceph RGW...). Needs ``boto3``, which is not a dependency of Linkage."""

    def __init__(self, bucket: str, *, prefix: str = "blobs/", endpoint_url: str | None = None) -> None:
        if not bucket:
            raise BlobStoreError("LINKAGE_BLOB_S3_BUCKET must name a bucket when LINKAGE_BLOB_BACKEND=s3")
        try:
            import boto3  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError as exc:
            raise BlobStoreError(
                "LINKAGE_BLOB_BACKEND=s3 needs the boto3 package (pip install boto3); or use LINKAGE_BLOB_BACKEND=local"
            ) from exc
        self.bucket = bucket
        self.prefix = prefix
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url or None)

    def _key(self, digest: str) -> str:
        return f"{self.prefix}{digest}"

    def put_sync(self, data: bytes) -> str:
        digest = sha256_hex(data)
        self._client.put_object(Bucket=self.bucket, Key=self._key(digest), Body=data)
        return digest

    def get_sync(self, digest: str) -> bytes | None:
        if not is_sha256(digest):
            return None
        try:
            obj = self._client.get_object(Bucket=self.bucket, Key=self._key(digest))
        except self._client.exceptions.NoSuchKey:
            return None
        body: bytes = obj["Body"].read()
        return body

    async def put(self, data: bytes) -> str:
        return await asyncio.to_thread(self.put_sync, data)

    async def get(self, digest: str) -> bytes | None:
        return await asyncio.to_thread(self.get_sync, digest)

    async def exists(self, digest: str) -> bool:
        return await self.get(digest) is not None


def make_blob_store(settings: Settings) -> LocalBlobStore | S3BlobStore:
    backend = settings.blob_backend.lower()
    if backend == "local":
        return LocalBlobStore(settings.blob_dir or settings.var_dir / "blobs")
    if backend == "s3":
        return S3BlobStore(
            settings.blob_s3_bucket, prefix=settings.blob_s3_prefix, endpoint_url=settings.blob_s3_endpoint_url or None
        )
    raise BlobStoreError(f"unknown LINKAGE_BLOB_BACKEND {settings.blob_backend!r}: use 'local' or 's3'")
