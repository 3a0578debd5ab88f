"""Content-addressed blob store for photos: local directory by default, S3-compatible by configuration."""

from .store import BlobStore, BlobStoreError, LocalBlobStore, S3BlobStore, is_sha256, make_blob_store, sha256_hex

__all__ = ["BlobStore", "BlobStoreError", "LocalBlobStore", "S3BlobStore", "is_sha256", "make_blob_store", "sha256_hex"]
