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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from services.dispatch.case.models import CaseHistory
from shared.calendar import SHANGHAI
from shared.catalog import CATEGORY_NAMES
from shared.settings import Settings, get_settings
from shared.wording import (
    EMERGENCY_NAMES,
    channel_name,
    department_name,
    known_reason,
    matter_name,
    system_reason,
)

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
        "unmerged",
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


# ------------------------------------------------------------------------------------------ what people read

ACTION_NAMES: dict[str, str] = {
    "created": "受理",
    "transferred": "转紧急服务",
    "answered": "直接答复",
    "triaged": "转人工派单",
    "dispatched": "派单",
    "signed": "签收",
    "returned": "退单",
    "return_approved": "同意退单",
    "return_denied": "驳回退单",
    "reassigned": "改派",
    "arbitrated": "职责裁定",
    "progressed": "反馈进展",
    "extension_requested": "申请延期",
    "extension_approved": "批准延期",
    "extension_denied": "驳回延期",
    "suspended": "挂起",
    "resumed": "恢复办理",
    "replied": "办结",
    "surveyed": "回访",
    "reopened": "重办",
    "verified": "核查",
    "merged": "并单",
    "unmerged": "取消并单",
    "whistled": "吹哨",
    "reported": "吹哨报到",
    "closed": "结案",
    "warned": "预警",
    "urged": "催办",
    "supervised": "督办",
    "publicized": "通报",
    "supplemented": "补充材料",
    "corrected": "更正分类",
    "handoff_sent": "推送警情",
    "handoff_acknowledged": "接警确认",
    "handoff_escalated": "转交未确认升级",
    "solved_on_spot": "网格员现场解决",
}
ROLE_NAMES = {"handler": "承办单位", "dispatcher": "派单员", "admin": "管理员"}
SYSTEM_ACTORS = {
    "intake": "受理系统",
    "routing": "智能派单",
    "system": "系统",
    "system:sla": "时限监督",
    "system:duplicates": "重复诉求识别",
    "survey": "回访系统",
    "citizen": "市民",
    "system:handoff": "警情转交",
    "grid": "网格员",
}
ACTOR_CHANNELS = {"sms": "短信", "wechat": "微信", "web": "网页", "phone": "电话", "hotline": "电话"}
LEVEL_NAMES = {"yellow": "黄色预警", "red": "超期", "publicize": "超期通报", "whistle": "吹哨报到超时"}
_LINE_SAYS_IT = re.compile(r"^matter [A-Z]{2}\d{3} → [A-Z0-9]{2,10}$")


def actor_name(actor: str | None) -> str:
    """``dispatcher:ZX:label`` → ``成华区大联动指挥中心 派单员``; system actors by their Chinese names."""
    actor = actor or "system"
    if actor in SYSTEM_ACTORS:
        return SYSTEM_ACTORS[actor]
    role, _, rest = actor.partition(":")
    if role == "citizen":
        return "市民" + (f"（{ACTOR_CHANNELS[rest]}）" if rest in ACTOR_CHANNELS else "")
    if role in ROLE_NAMES:
        dept = rest.split(":", 1)[0]
        return f"{department_name(dept)} {ROLE_NAMES[role]}" if dept else ROLE_NAMES[role]
    if role == "system":
        return "系统"
    return actor


def _departments(codes: object) -> str:
    return "、".join(department_name(c) for c in codes or []) if isinstance(codes, list | tuple) else ""


def _local(value: object) -> str:
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M")


def describe(action: str, details: dict[str, Any] | None = None) -> str:
    """One line in Chinese for a history entry, internal codes shown by their names:
    ``派单：井盖缺失 → 双桥子街道（协办：水务局）``, ``受理（12345热线 · 投诉）``."""
    d = details or {}
    name = ACTION_NAMES.get(action, action)
    if action == "created":
        parts = [channel_name(d["channel"]) if d.get("channel") else "", str(d.get("kind") or "")]
        parts = [p for p in parts if p]
        return name + (f"（{' · '.join(parts)}）" if parts else "")
    if action in ("dispatched", "reassigned", "arbitrated"):
        target = department_name(d.get("lead"))
        matter = f"{matter_name(d['matter_code'])} → " if d.get("matter_code") else "→ "
        co = _departments(d.get("co_handlers"))
        line = f"{name}：{matter}{target}" + (f"（协办：{co}）" if co else "")
        if action == "dispatched" and d.get("deadline_at"):
            line += f"，办理时限至{_local(d['deadline_at'])}"
        return line
    if action == "transferred":
        service = str(d.get("service") or "")
        return f"{name}：{EMERGENCY_NAMES.get(service, service or '110')}"
    if action in ("handoff_sent", "handoff_acknowledged") and d.get("service"):
        return f"{name}：{EMERGENCY_NAMES.get(str(d['service']), str(d['service']))}"
    if action == "handoff_escalated" and d.get("alert_level"):
        level = str(d["alert_level"])
        return f"{name}：警示升至{dict(zip('12345', '一二三四五', strict=True)).get(level, level)}级"
    if action in ("extension_requested", "extension_approved") and d.get("days"):
        approved = action == "extension_approved" and d.get("deadline_at")
        until = f"，新时限至{_local(d['deadline_at'])}" if approved else ""
        return f"{name}{d['days']}个工作日{until}"
    if action == "resumed" and d.get("suspended_working_days"):
        return f"{name}，时限顺延{d['suspended_working_days']}个工作日"
    if action == "surveyed" and d.get("result") and isinstance(d.get("solved"), bool):
        return f"{name}：{'已解决' if d['solved'] else '未解决'}，{d['result']}"
    if action in ("surveyed", "closed") and d.get("result"):
        return f"{name}：{d['result']}"
    if action == "verified" and "passed" in d:
        return f"{name}：{'通过' if d['passed'] else '未通过，重新办理'}"
    if action == "merged":
        master = d.get("master_tracking_code")
        return f"{name}：并入工单{master}" if master else name
    if action == "unmerged":
        return f"{name}，转人工派单"
    if action == "whistled":
        return f"{name}：召集{_departments(d.get('departments'))}，30分钟内报到"
    if action == "reported":
        late = "" if d.get("on_time", True) else "（超时）"
        return f"{name}{late}"
    if action in ("warned", "urged", "supervised", "publicized") and d.get("level") in LEVEL_NAMES:
        return f"{name}（{LEVEL_NAMES[str(d['level'])]}）"
    if action == "corrected":
        return f"{name}：" + "，".join(_corrections(d))
    return name


def _corrections(d: dict[str, Any]) -> list[str]:
    """What a 更正分类 changed, in words (everything it records when the previous labels are unknown)."""
    before = d["previous"] if isinstance(d.get("previous"), dict) else {}
    out = []
    if before.get("kind") != d.get("kind"):
        out.append(f"诉求类型{before.get('kind') or ''}→{d.get('kind')}")
    if d.get("matter_code") and before.get("matter_code") != d.get("matter_code"):
        out.append(f"事项→{matter_name(d['matter_code'])}")
    elif not d.get("matter_code") and before.get("category") != d.get("category"):
        out.append(f"大类→{CATEGORY_NAMES.get(str(d.get('category')), '未分类')}")
    if before and before.get("emergency") != d.get("emergency"):
        out.append(f"紧急警情→{EMERGENCY_NAMES.get(str(d.get('emergency')), '否')}")
    return out or ["分类不变"]


def reason_text(action: str, reason: str | None, actor: str | None) -> str | None:
    """The entry's reason for people: a person's words as typed, the system's in Chinese (None if the line
    already says it, or nothing Chinese is left)."""
    if not reason:
        return None
    role = (actor or "").split(":", 1)[0]
    if role in ROLE_NAMES:  # a person's words, unless the system wrote them on the person's behalf
        return known_reason(reason) or reason
    if _LINE_SAYS_IT.match(reason.strip()) or (action == "dispatched" and actor == "routing"):
        return None  # the line already says which matter went to whom
    return system_reason(reason)
