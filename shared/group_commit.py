"""Group commit: concurrent callers share one database transaction.

Requests put their item on a queue and wait; a writer takes everything queued so far (no added
delay: while one transaction is in flight the next batch accumulates), applies it in ONE
transaction and answers every caller only after the commit, so an acknowledged item is durable.
If a batch fails, its items are retried one by one so one bad item fails alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from prometheus_client import Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.logging import get_logger

log = get_logger(__name__)
I = TypeVar("I")  # noqa: E741 - item
R = TypeVar("R")
BATCH_SIZE = Histogram(
    "linkage_group_commit_batch_size",
    "Items per group-committed transaction",
    ["name"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


class GroupCommitter(Generic[I, R]):
    def __init__(
        self,
        name: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        apply: Callable[[AsyncSession, Sequence[I]], Awaitable[Sequence[R]]],
        *,
        max_batch: int = 256,
        writers: int = 2,
        after_commit: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.sessionmaker = sessionmaker
        self.apply = apply
        self.max_batch = max_batch
        self.writers = writers
        self.after_commit = after_commit
        self._queue: asyncio.Queue[tuple[I, asyncio.Future[R]]] = asyncio.Queue()

    async def submit(self, item: I) -> R:
        """Apply ``item`` in a shared transaction; returns once that transaction has committed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._writer()) for _ in range(self.writers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            self._fail_pending(RuntimeError("service is stopping"))

    async def _writer(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._commit(batch)

    async def _commit(self, batch: list[tuple[I, asyncio.Future[R]]]) -> None:
        try:
            async with self.sessionmaker() as session, session.begin():
                results = await self.apply(session, [item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 - isolated below
            if len(batch) > 1:
                log.warning(
                    "group commit failed; retrying items one by one", name=self.name, size=len(batch), error=repr(exc)
                )
                for entry in batch:
                    await self._commit([entry])
                return
            _, future = batch[0]
            if not future.done():
                future.set_exception(exc)
            return
        BATCH_SIZE.labels(self.name).observe(len(batch))
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
        if self.after_commit is not None:
            self.after_commit()

    def _fail_pending(self, exc: BaseException) -> None:
        while not self._queue.empty():
            with contextlib.suppress(asyncio.QueueEmpty):
                _, future = self._queue.get_nowait()
                if not future.done():
                    future.set_exception(exc)
