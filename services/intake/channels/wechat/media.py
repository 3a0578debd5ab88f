"""Fetch photos sent to the official account into the blob store, later and asynchronously.

The passive reply must leave within 5 s, so an image message only records a ``media_fetches`` row.
This background job takes pending rows one at a time (``FOR UPDATE SKIP LOCKED``, so several intake
replicas share the work), downloads ``PicUrl`` — only from the hosts in ``LINKAGE_WECHAT_MEDIA_HOSTS``,
size-bounded and checked by content — stores it by hash and adds it to the complaint as a
``complaint.supplemented.v1``. A failure is retried; after ``LINKAGE_MEDIA_FETCH_MAX_ATTEMPTS`` the
row is marked ``failed`` with the error.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.intake.blobs.images import check_image
from services.intake.blobs.store import LocalBlobStore, S3BlobStore, make_blob_store
from services.intake.channels.app.common import supplement_complaint
from services.intake.channels.wechat.models import MediaFetch
from services.intake.complaint.models import Complaint
from shared.app import ServiceRuntime
from shared.errors import DomainError
from shared.events.complaints import Attachment
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)


class MediaError(Exception):
    """Why one photo could not be fetched (recorded on the row); ``final``: trying again cannot help."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


def allowed_hosts(settings: Settings) -> frozenset[str]:
    return frozenset(h.strip().lower() for h in settings.wechat_media_hosts.split(",") if h.strip())


async def download(client: httpx.AsyncClient, url: str, hosts: frozenset[str], max_bytes: int) -> bytes:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or (parts.hostname or "").lower() not in hosts:
        raise MediaError(f"host of {url!r} is not in LINKAGE_WECHAT_MEDIA_HOSTS")
    data = bytearray()
    async with client.stream("GET", url) as response:
        if response.status_code != 200:
            raise MediaError(f"HTTP {response.status_code} from {parts.hostname}")
        async for chunk in response.aiter_bytes():
            data.extend(chunk)
            if len(data) > max_bytes:
                raise MediaError(f"photo larger than {max_bytes} bytes")
    return bytes(data)


async def fetch_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    store: LocalBlobStore | S3BlobStore,
    client: httpx.AsyncClient,
    settings: Settings,
) -> str | None:
    """Fetch the oldest pending photo; returns its outcome (done/retry/failed) or None when none is due."""
    hosts = allowed_hosts(settings)
    async with sessionmaker() as session, session.begin():
        row = (
            await session.execute(
                select(MediaFetch)
                .where(MediaFetch.status == "pending")
                .order_by(MediaFetch.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).scalar_one_or_none()
        if row is None:
            return None
        try:
            if not row.url:
                raise MediaError("no PicUrl (a MediaId needs the WeChat media API)")
            data = await download(client, row.url, hosts, settings.upload_max_photo_bytes)
            try:  # decoded in full like app/grid uploads; EXIF (GPS) stripped
                checked = await asyncio.to_thread(
                    check_image, data, "PicUrl", max_pixels=settings.upload_max_photo_pixels
                )
            except DomainError as exc:
                raise MediaError(f"not a usable JPEG, PNG or WebP image: {exc.message}", final=True) from exc
            data, content_type = checked.data, checked.content_type
            digest = await store.put(data)
            complaint = await session.get(Complaint, row.complaint_id, with_for_update=True)
            if complaint is None:
                raise MediaError(f"complaint {row.complaint_id} not found")
            await supplement_complaint(
                session,
                complaint,
                attachments=[
                    Attachment(url=f"/api/v1/blobs/{digest}", content_type=content_type, sha256=digest, size=len(data))
                ],
            )
            row.status, row.blob_sha256, row.last_error = "done", digest, None
        except (MediaError, httpx.HTTPError) as exc:
            row.attempts += 1
            row.last_error = str(exc)[:500]
            final = isinstance(exc, MediaError) and (exc.final or "LINKAGE_WECHAT_MEDIA_HOSTS" in str(exc))
            if final or row.attempts >= settings.media_fetch_max_attempts:
                row.status = "failed"
            log.warning("wechat photo not fetched", media_fetch=row.id, attempts=row.attempts, error=str(exc))
        return row.status if row.status != "pending" else "retry"


async def run_media_fetcher(runtime: ServiceRuntime) -> None:
    """Background job of the intake service."""
    settings = runtime.settings
    store = runtime.extras.get("blob_store") or make_blob_store(settings)
    runtime.extras["blob_store"] = store
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
        while True:
            try:
                outcome = await fetch_one(runtime.sessionmaker, store, client, settings)
            except Exception:  # noqa: BLE001 - e.g. the database restarting: the row stays pending
                log.exception("media fetcher pass failed")
                outcome = None
            if outcome in (None, "retry"):
                await asyncio.sleep(settings.media_fetch_interval_s)
