"""The end of every channel's "file a complaint" request: commit, publish, say whether it was a replay."""

from __future__ import annotations

from fastapi import Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from shared.app import ServiceRuntime


async def commit_filed(session: AsyncSession, runtime: ServiceRuntime, response: Response, *, created: bool) -> None:
    """Commit the request's transaction; a new complaint wakes the outbox relay, a repeat of the same
    channel key answers 200 with ``Idempotent-Replay: true`` instead of 201."""
    await session.commit()
    if created:
        runtime.relay.wake()
    else:
        mark_replay(response)


def mark_replay(response: Response) -> None:
    response.status_code = status.HTTP_200_OK
    response.headers["Idempotent-Replay"] = "true"
