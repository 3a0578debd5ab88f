"""``GET /api/v1/blobs/{sha256}``: photos back by their content hash."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.intake.blobs.images import image_type
from services.intake.blobs.store import LocalBlobStore, S3BlobStore, is_sha256, make_blob_store
from shared.access import public
from shared.errors import InvalidInput, NotFound

router = APIRouter(prefix="/api/v1", tags=["blobs"])


def blob_store(request: Request) -> LocalBlobStore | S3BlobStore:
    """The process's blob store (created on first use, kept in ``runtime.extras``)."""
    runtime = request.app.state.runtime
    store = runtime.extras.get("blob_store")
    if store is None:
        store = runtime.extras["blob_store"] = make_blob_store(runtime.settings)
    return store


@router.get(
    "/blobs/{digest}",
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
    openapi_extra=public("a photo by its sha256 digest (unguessable; EXIF stripped)"),
)
async def read_blob(digest: str, request: Request) -> Response:
    if not is_sha256(digest):
        raise InvalidInput("digest must be a lowercase sha256 hex string (64 characters)", field="digest")
    data = await blob_store(request).get(digest)
    if data is None:
        raise NotFound(f"blob {digest} not found")
    return Response(
        data,
        media_type=image_type(data) or "application/octet-stream",
        headers={"Cache-Control": "public, max-age=31536000, immutable", "ETag": f'"{digest}"'},
    )
