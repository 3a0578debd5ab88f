"""Append-only, keyed hash-chained case history (留痕).

Each entry's ``hash`` is a MAC: ``HMAC-SHA256(audit key, prev_hash + canonical JSON of the entry and
its key id)``; the first entry of a case chains from :data:`GENESIS`. The key (``LINKAGE_AUDIT_KEY``)
is not in the database, so someone with only SQL access cannot recompute a valid chain. Entries
written before keying (``key_id`` NULL) carry ``sha256(prev_hash + canonical JSON)`` and verify as
*legacy*. Editing or deleting any row breaks the chain from that row on, and :func:`verify_chain`
names the case and the entry; the checkpoints written outside the database (see
:mod:`services.dispatch.audit_checkpoints`) catch truncation and recomputed chains.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from services.dispatch.case.models import CaseHistory
from shared.settings import Settings, get_settings

GENESIS = "0" * 64

PUBLIC_ACTIONS = frozenset(
    {
        "created",
        "transferred",
        "answered",
        "dispatched",
        "signed",
        "reassigned",
        "arbitrated",
        "extension_approved",
        "suspended",
        "resumed",
        "replied",
        "surveyed",
        "reopened",
        "verified",
        "merged",
        "closed",
    }
)
"""Actions the citizen sees on the tracking page (without reasons, actors or personal data)."""


def normalise(details: dict[str, Any]) -> dict[str, Any]:
    """JSON round trip, so what is hashed is exactly what JSONB gives back."""
    out: dict[str, Any] = json.loads(json.dumps(details, default=str, ensure_ascii=False))
    return out


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def entry_body(
    *,
    case_id: str,
    seq: int,
    action: str,
    from_state: str | None,
    to_state: str,
    actor: str,
    reason: str | None,
    details: dict[str, Any],
    public: bool,
    at: datetime,
) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "seq": seq,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "actor": actor,
        "reason": reason,
        "details": details,
        "public": public,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
    }


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    """The unkeyed (legacy) link: anyone can recompute it, so it only proves order, not origin."""
    return hashlib.sha256(prev_hash.encode() + canonical(body)).hexdigest()


def chain_mac(key: bytes, key_id: str, prev_hash: str, body: dict[str, Any]) -> str:
    """The keyed link: HMAC-SHA256 over the previous MAC and the entry, the key id included."""
    return hmac.new(key, prev_hash.encode() + canonical({**body, "key_id": key_id}), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Keyring:
    """The current audit key (used to write) and every key still accepted to verify, by id."""

    current_id: str
    keys: dict[str, bytes]

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        return cls(current_id=settings.audit_key_id, keys=settings.audit_keys)

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    def mac(self, prev_hash: str, body: dict[str, Any]) -> str:
        return chain_mac(self.current, self.current_id, prev_hash, body)


@lru_cache
def default_keyring() -> Keyring:
    """The keyring of this process (``LINKAGE_AUDIT_KEY`` / ``LINKAGE_AUDIT_KEY_ID``)."""
    return Keyring.from_settings(get_settings())


def row_body(row: CaseHistory) -> dict[str, Any]:
    return entry_body(
        case_id=row.case_id,
        seq=row.seq,
        action=row.action,
        from_state=row.from_state,
        to_state=row.to_state,
        actor=row.actor,
        reason=row.reason,
        details=row.details or {},
        public=row.public,
        at=row.at,
    )


@dataclass(frozen=True)
class ChainProblem:
    case_id: str
    seq: int
    history_id: int | None
    problem: str
    kind: str = "edited"
    """edited | deleted | truncated | recomputed | downgraded | unknown_key | orphan | case_deleted | checkpoint"""

    def __str__(self) -> str:
        ref = f"entry #{self.seq}" + (f" (row id {self.history_id})" if self.history_id is not None else "")
        return f"case {self.case_id} {ref}: {self.problem}"


@dataclass
class ChainReport:
    """One case's chain as verified: its problems, where it ends, and how many entries are legacy."""

    case_id: str
    problems: list[ChainProblem]
    length: int = 0
    head: str | None = None
    legacy: int = 0
    keyed: int = 0


def _check_link(row: CaseHistory, keyring: Keyring, seen_keyed: bool) -> tuple[str, str] | None:
    """(kind, message) when the row's own MAC/hash is wrong, else None."""
    body = row_body(row)
    plain = chain_hash(row.prev_hash, body)
    if row.key_id is None:
        if seen_keyed:
            return "downgraded", "unkeyed entry after keyed ones: chain recomputed without the key"
        if plain != row.hash:
            return "edited", "content edited: hash does not match"
        return None
    key = keyring.keys.get(row.key_id)
    if key is None:
        return "unknown_key", f"written with audit key id {row.key_id!r}, which is not configured"
    if chain_mac(key, row.key_id, row.prev_hash, body) == row.hash:
        return None
    if plain == row.hash:
        return "recomputed", "MAC replaced by a plain hash: chain recomputed without the key"
    return "edited", "content edited: MAC does not match"


def verify_chain(
    case_id: str,
    rows: Sequence[CaseHistory],
    head_seq: int | None = None,
    head_hash: str | None = None,
    keyring: Keyring | None = None,
) -> list[ChainProblem]:
    """Problems in one case's chain (rows in ``seq`` order); ``head_*`` come from the case row."""
    return verify_case(case_id, rows, head_seq, head_hash, keyring).problems


def verify_case(
    case_id: str,
    rows: Sequence[CaseHistory],
    head_seq: int | None = None,
    head_hash: str | None = None,
    keyring: Keyring | None = None,
) -> ChainReport:
    keyring = keyring or default_keyring()
    report = ChainReport(case_id, [])
    problems = report.problems
    prev = GENESIS
    expected_seq = 1
    seen_keyed = False
    for row in rows:
        if row.seq != expected_seq:
            problems.append(
                ChainProblem(case_id, expected_seq, None, f"entry missing (next stored is #{row.seq})", "deleted")
            )
        if row.prev_hash != prev:
            problems.append(
                ChainProblem(case_id, row.seq, row.id, "prev_hash does not match the previous entry", "edited")
            )
        bad = _check_link(row, keyring, seen_keyed)
        if bad is not None:
            problems.append(ChainProblem(case_id, row.seq, row.id, bad[1], bad[0]))
        if row.key_id is None:
            report.legacy += 1
        else:
            report.keyed += 1
            seen_keyed = True
        prev = row.hash
        expected_seq = row.seq + 1
    report.length = expected_seq - 1
    report.head = rows[-1].hash if rows else None
    if head_seq is not None and head_seq != expected_seq - 1:
        problems.append(
            ChainProblem(
                case_id,
                expected_seq,
                None,
                f"entries missing at the end: case says {head_seq}, found {expected_seq - 1}",
                "truncated",
            )
        )
    elif head_hash is not None and rows and head_hash != rows[-1].hash:
        problems.append(
            ChainProblem(case_id, rows[-1].seq, rows[-1].id, "last entry does not match the case head", "edited")
        )
    return report
