"""Append-only, hash-chained case history (留痕).

Each entry's ``hash`` is ``sha256(prev_hash + canonical JSON of the entry)``; the first entry of a
case chains from :data:`GENESIS`. Editing or deleting any row breaks the chain from that row on,
and :func:`verify_chain` names the case and the entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.dispatch.case.models import CaseHistory

GENESIS = "0" * 64

PUBLIC_ACTIONS = frozenset({
    "created", "transferred", "answered", "dispatched", "signed", "reassigned", "arbitrated",
    "extension_approved", "suspended", "resumed", "replied", "surveyed", "reopened", "verified",
    "merged", "closed",
})
"""Actions the citizen sees on the tracking page (without reasons, actors or personal data)."""


def normalise(details: dict[str, Any]) -> dict[str, Any]:
    """JSON round trip, so what is hashed is exactly what JSONB gives back."""
    out: dict[str, Any] = json.loads(json.dumps(details, default=str, ensure_ascii=False))
    return out


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def entry_body(
    *, case_id: str, seq: int, action: str, from_state: str | None, to_state: str, actor: str,
    reason: str | None, details: dict[str, Any], public: bool, at: datetime,
) -> dict[str, Any]:
    return {
        "case_id": case_id, "seq": seq, "action": action, "from_state": from_state, "to_state": to_state,
        "actor": actor, "reason": reason, "details": details, "public": public,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
    }


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(body)).hexdigest()


def row_body(row: CaseHistory) -> dict[str, Any]:
    return entry_body(
        case_id=row.case_id, seq=row.seq, action=row.action, from_state=row.from_state, to_state=row.to_state,
        actor=row.actor, reason=row.reason, details=row.details or {}, public=row.public, at=row.at,
    )


@dataclass(frozen=True)
class ChainProblem:
    case_id: str
    seq: int
    history_id: int | None
    problem: str

    def __str__(self) -> str:
        ref = f"entry #{self.seq}" + (f" (row id {self.history_id})" if self.history_id is not None else "")
        return f"case {self.case_id} {ref}: {self.problem}"


def verify_chain(
    case_id: str, rows: Sequence[CaseHistory], head_seq: int | None = None, head_hash: str | None = None
) -> list[ChainProblem]:
    """Problems in one case's chain (rows in ``seq`` order); ``head_*`` come from the case row."""
    problems: list[ChainProblem] = []
    prev = GENESIS
    expected_seq = 1
    for row in rows:
        if row.seq != expected_seq:
            problems.append(ChainProblem(case_id, expected_seq, None, f"entry missing (next stored is #{row.seq})"))
        if row.prev_hash != prev:
            problems.append(ChainProblem(case_id, row.seq, row.id, "prev_hash does not match the previous entry"))
        if chain_hash(row.prev_hash, row_body(row)) != row.hash:
            problems.append(ChainProblem(case_id, row.seq, row.id, "content edited: hash does not match"))
        prev = row.hash
        expected_seq = row.seq + 1
    if head_seq is not None and head_seq != expected_seq - 1:
        problems.append(ChainProblem(case_id, expected_seq, None,
                                     f"entries missing at the end: case says {head_seq}, found {expected_seq - 1}"))
    elif head_hash is not None and rows and head_hash != rows[-1].hash:
        problems.append(ChainProblem(case_id, rows[-1].seq, rows[-1].id, "last entry does not match the case head"))
    return problems
