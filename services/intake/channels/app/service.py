"""App and grid submissions: validate photos, store them by hash, create the complaint, remember the type."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from services.intake.blobs.images import DEFAULT_MAX_PIXELS, PayloadTooLarge, Photo, read_photo
from services.intake.blobs.store import LocalBlobStore, S3BlobStore
from services.intake.channels.app.models import ChannelSubmission
from services.intake.channels.app.schemas import ChannelComplaintOut, PhotoOut
from services.intake.complaint.models import Complaint
from shared.events.complaints import Attachment


async def read_photos(
    files: Sequence[UploadFile], *, max_files: int, max_bytes: int, max_pixels: int = DEFAULT_MAX_PIXELS
) -> list[Photo]:
    """Every upload must be a JPEG/PNG/WebP that decodes completely within the size and pixel limits;
    checked before anything is stored (a photo with EXIF comes back re-encoded without it)."""
    if len(files) > max_files:
        raise PayloadTooLarge(f"photos: at most {max_files} photos", field="photos", limit=max_files)
    return [await read_photo(f, f"photos[{i}]", max_bytes, max_pixels) for i, f in enumerate(files)]


async def store_photos(store: LocalBlobStore | S3BlobStore, photos: Sequence[Photo]) -> list[Attachment]:
    out = []
    for photo in photos:
        digest = await store.put(photo.data)
        out.append(
            Attachment(
                url=f"/api/v1/blobs/{digest}", content_type=photo.content_type, sha256=digest, size=len(photo.data)
            )
        )
    return out


async def record_submission(
    session: AsyncSession,
    complaint_id: str,
    *,
    channel: str,
    submission_type: str,
    errand: bool = False,
    worker_id: str | None = None,
) -> None:
    stmt = (
        insert(ChannelSubmission)
        .values(
            complaint_id=complaint_id,
            channel=channel,
            submission_type=submission_type,
            errand=errand,
            worker_id=worker_id,
        )
        .on_conflict_do_nothing(index_elements=["complaint_id"])
    )
    await session.execute(stmt)


async def submission_of(session: AsyncSession, complaint_id: str) -> ChannelSubmission | None:
    return await session.get(ChannelSubmission, complaint_id)


def complaint_out(c: Complaint, sub: ChannelSubmission | None, *, created: bool) -> ChannelComplaintOut:
    photos = [
        PhotoOut(sha256=a["sha256"], url=a["url"], content_type=a.get("content_type", ""), size=a.get("size", 0))
        for a in c.attachments
        if a.get("sha256")
    ]
    return ChannelComplaintOut(
        id=c.id,
        tracking_code=c.tracking_code,
        channel=c.channel,
        type=sub.submission_type if sub else "complaint",
        kind=c.kind,
        text=c.text,
        category=c.category,
        matter_code=c.matter_code,
        street_code=c.street_code,
        community_code=c.community_code,
        grid_code=c.grid_code,
        location={"lon": c.lon, "lat": c.lat, "source": c.location_source} if c.lon is not None else None,
        photos=photos,
        errand=bool(sub and sub.errand),
        solved_on_spot=c.solved_on_spot,
        outside_own_grid=c.outside_own_grid,
        outside_district=bool((c.place or {}).get("outside_district")),
        place_note=(c.place or {}).get("note"),
        address=c.address,
        address_status=c.address_status,
        received_at=c.received_at,
        created=created,
    )
