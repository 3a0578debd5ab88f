"""Count, straight from PostgreSQL, what the pipeline made of a set of complaints.

Used by the reliability tests and `linkage chaos` to prove "nothing lost, nothing doubled": for every
accepted complaint exactly one case (dispatch schema), one receipt (notify schema) and one analytics
projection (analytics schema), and the analytics "created" counters grew by exactly the number of
new projections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg

from shared.db import sync_url

_CASES = "SELECT complaint_id, count(*) FROM dispatch.cases WHERE complaint_id = ANY($1::text[]) GROUP BY complaint_id"
_RECEIPTS = (
    "SELECT c.complaint_id, count(*) FROM notify.messages m JOIN dispatch.cases c ON c.id = m.case_id "
    "WHERE c.complaint_id = ANY($1::text[]) AND m.template = 'receipt' GROUP BY c.complaint_id"
)
_PROJECTIONS = (
    "SELECT c.complaint_id, count(*) FROM analytics.case_status s JOIN dispatch.cases c ON c.id = s.case_id "
    "WHERE c.complaint_id = ANY($1::text[]) GROUP BY c.complaint_id"
)
_CREATED_TOTAL = "SELECT coalesce(sum(count), 0) FROM analytics.daily_counts WHERE action = 'created'"
_STATUS_TOTAL = "SELECT count(*) FROM analytics.case_status"
_INTAKE_ROWS = "SELECT count(*) FROM intake.complaints WHERE id = ANY($1::text[])"


@dataclass(frozen=True)
class AnalyticsTotals:
    """Global analytics counters: every case adds one "created" count and one status row."""

    created: int
    statuses: int

    def surplus_since(self, before: AnalyticsTotals) -> int:
        """Created counts added beyond the status rows added (> 0: a case event was counted twice)."""
        return (self.created - before.created) - (self.statuses - before.statuses)


@dataclass
class PipelineCounts:
    complaint_ids: list[str]
    intake_rows: int = 0
    cases: dict[str, int] = field(default_factory=dict)
    receipts: dict[str, int] = field(default_factory=dict)
    projections: dict[str, int] = field(default_factory=dict)
    analytics: AnalyticsTotals = AnalyticsTotals(0, 0)

    def missing(self, counts: dict[str, int]) -> list[str]:
        return [cid for cid in self.complaint_ids if counts.get(cid, 0) == 0]

    @staticmethod
    def surplus(counts: dict[str, int]) -> int:
        return sum(max(0, n - 1) for n in counts.values())

    @property
    def lost(self) -> int:
        """Accepted complaints lacking a case, a receipt or an analytics projection."""
        return len(
            set(self.missing(self.cases)) | set(self.missing(self.receipts)) | set(self.missing(self.projections))
        )

    def duplicated(self, analytics_before: AnalyticsTotals | None = None) -> int:
        extra = self.surplus(self.cases) + self.surplus(self.receipts) + self.surplus(self.projections)
        if analytics_before is not None:
            extra += max(0, self.analytics.surplus_since(analytics_before))
        return extra

    @property
    def settled(self) -> bool:
        return self.lost == 0

    def summary(self) -> str:
        n = len(self.complaint_ids)
        return (
            f"{n} complaints: intake rows {self.intake_rows}, cases {sum(self.cases.values())} "
            f"(missing {len(self.missing(self.cases))}), receipts {sum(self.receipts.values())} "
            f"(missing {len(self.missing(self.receipts))}), analytics {sum(self.projections.values())} "
            f"(missing {len(self.missing(self.projections))})"
        )


async def analytics_totals(database_url: str) -> AnalyticsTotals:
    conn = await asyncpg.connect(sync_url(database_url), timeout=5)
    try:
        return AnalyticsTotals(int(await conn.fetchval(_CREATED_TOTAL)), int(await conn.fetchval(_STATUS_TOTAL)))
    finally:
        await conn.close()


async def count_pipeline(database_url: str, complaint_ids: Sequence[str]) -> PipelineCounts:
    """One case, one receipt and one analytics projection per complaint id, as stored right now."""
    ids = list(dict.fromkeys(complaint_ids))
    conn = await asyncpg.connect(sync_url(database_url), timeout=5)
    try:
        counts = PipelineCounts(complaint_ids=ids)
        counts.intake_rows = int(await conn.fetchval(_INTAKE_ROWS, ids))
        counts.cases = {r[0]: int(r[1]) for r in await conn.fetch(_CASES, ids)}
        counts.receipts = {r[0]: int(r[1]) for r in await conn.fetch(_RECEIPTS, ids)}
        counts.projections = {r[0]: int(r[1]) for r in await conn.fetch(_PROJECTIONS, ids)}
        counts.analytics = AnalyticsTotals(
            int(await conn.fetchval(_CREATED_TOTAL)), int(await conn.fetchval(_STATUS_TOTAL))
        )
        return counts
    finally:
        await conn.close()


async def unsent_outbox_rows(database_url: str, schema: str = "intake") -> int:
    conn = await asyncpg.connect(sync_url(database_url), timeout=5)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE sent_at IS NULL"))
    finally:
        await conn.close()
