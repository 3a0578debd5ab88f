"""Checkpoints of the case history chains on ``linkage.audit.checkpoints.v1`` (key: case id).

Each record says "case X's history had ``seq`` entries ending in ``head_mac`` at ``at``"; ``sig`` is an
HMAC over the record with the audit key (id ``sig_key``), so it cannot be forged without the key. The
same records are appended to the signed JSONL checkpoint files; ``linkage audit verify`` reads both.
"""

from __future__ import annotations

from datetime import datetime

from shared.events.registry import EventPayload, register_event


@register_event
class AuditCheckpointV1(EventPayload):
    event_type = "cn.linkage.audit.checkpoint.v1"

    case_id: str
    seq: int
    head_mac: str
    at: datetime
    sig_key: str
    sig: str
