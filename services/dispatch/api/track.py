"""Public tracking by tracking code: the public part of the history, no personal data.

No complaint text, address or reporter; the reply text shown to the citizen (办结/答复) is redacted
(``shared/redact.py``; none at all with ``LINKAGE_PUBLIC_DESCRIPTION_POLICY=none``). Rate-limited per client
address (``LINKAGE_PUBLIC_RATE_PER_MINUTE``/``_BURST``): tracking codes must not be guessable by brute force.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import select

from services.dispatch.api import common
from services.dispatch.api.schemas import TrackEntry, TrackOut
from services.dispatch.case.models import Case
from shared.access import public
from shared.app import RuntimeDep, SessionDep
from shared.catalog import CATEGORY_NAMES, default_catalog
from shared.errors import NotFound
from shared.ratelimit import public_rate_limit
from shared.redact import DescriptionPolicy, public_description

router = APIRouter(prefix="/api/v1/track", tags=["tracking"])
TRACK_LIMIT = public_rate_limit("track")

LABELS = {
    "created": "已受理",
    "transferred": "已转紧急服务(110/119/120/122)",
    "answered": "已答复",
    "dispatched": "已派单",
    "signed": "已签收",
    "reassigned": "已改派",
    "arbitrated": "已裁定承办单位",
    "extension_approved": "已延期",
    "suspended": "已挂起",
    "resumed": "恢复办理",
    "replied": "已办结",
    "surveyed": "已回访",
    "reopened": "重新办理",
    "verified": "已核查",
    "merged": "已并单",
    "unmerged": "恢复单独办理",
    "closed": "已结案",
}
STATE_LABELS = {
    "accepted": "已受理",
    "triage": "待派单",
    "transferred": "已转紧急服务",
    "answered": "已答复",
    "dispatched": "已派单",
    "signed": "办理中",
    "returned": "办理中",
    "suspended": "已挂起",
    "replied": "已办结",
    "verified": "已核查",
    "surveyed": "已回访",
    "merged": "已并单",
    "closed": "已结案",
}
_DEPARTMENT_ACTIONS = {"dispatched", "reassigned", "arbitrated"}
_TEXT_ACTIONS = {"replied", "answered"}


def _dept_name(code: object) -> str | None:
    dept = default_catalog().get_department(str(code)) if code else None
    return dept.name if dept else None


def _public_text(details: dict[str, object], policy: DescriptionPolicy) -> str | None:
    return public_description(str(details.get("text") or ""), policy) or None


@router.get(
    "/{code}",
    response_model=TrackOut,
    dependencies=[Depends(TRACK_LIMIT)],
    summary="Track a case by its tracking code (public history only; rate-limited)",
    openapi_extra=public("tracking code; redacted history; rate-limited"),
)
async def track(code: str, session: SessionDep, runtime: RuntimeDep) -> TrackOut:
    case = (await session.execute(select(Case).where(Case.tracking_code == code))).scalar_one_or_none()
    if case is None:
        raise NotFound(f"no case with tracking code {code}")
    entries = await common.history_of(session, case.id, public_only=True)
    master = await session.get(Case, case.merged_into) if case.merged_into else None
    if master is not None:  # 并单: the citizen follows the master case from the merge on
        merged_at = max((e.at for e in entries if e.action == "merged"), default=None)
        entries += [
            e
            for e in await common.history_of(session, master.id, public_only=True)
            if merged_at is None or e.at >= merged_at
        ]
    matter = default_catalog().get_matter(case.matter_code) if case.matter_code else None
    shown = master or case
    policy = runtime.settings.public_description_policy
    return TrackOut(
        tracking_code=case.tracking_code,
        state=case.state,
        state_label=STATE_LABELS.get(case.state, case.state),
        category=CATEGORY_NAMES.get(case.category or ""),
        matter=matter.name if matter else None,
        received_at=case.received_at,
        deadline_at=shown.deadline_at,
        merged_into=master.tracking_code if master else None,
        history=[
            TrackEntry(
                action=e.action,
                label=LABELS.get(e.action, e.action),
                state=e.to_state,
                at=e.at,
                department=_dept_name(e.details.get("lead")) if e.action in _DEPARTMENT_ACTIONS else None,
                text=_public_text(e.details, policy) if e.action in _TEXT_ACTIONS else None,
            )
            for e in entries
        ],
    )
