"""Hotline operator API: file a complaint (idempotent by call id) and read it back.

Filing needs an operator credential (console session or operator ``X-API-Key``); reading a complaint
back needs an operator or a dispatcher credential (see services/intake/operators/auth.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from services.intake.complaint import flows, service
from services.intake.complaint.http import commit_filed, mark_replay
from services.intake.complaint.schemas import ComplaintDraft, ComplaintOut, HotlineComplaintIn
from services.intake.operators.auth import AUTH_RESPONSES, STAFF_RESPONSES, OperatorDep, StaffDep
from shared.app import RuntimeDep, SessionDep
from shared.errors import NotFound
from shared.events.complaints import GeoPoint, Reporter
from shared.tracing import current_traceparent
from shared.validation import AuthFirstRoute

router = APIRouter(prefix="/api/v1", tags=["complaints"], route_class=AuthFirstRoute)  # 401/403 before 422


@router.post("/complaints", response_model=ComplaintOut, status_code=status.HTTP_201_CREATED, responses=AUTH_RESPONSES)
async def file_hotline_complaint(
    caller: OperatorDep, body: HotlineComplaintIn, session: SessionDep, runtime: RuntimeDep, response: Response
) -> ComplaintOut:
    """受理: a hotline operator files a ticket. The same ``call_id`` twice returns the first ticket (200).

    The ticket records the authenticated operator (``operator_id`` in the body is ignored). The answer of a
    new ticket carries the citizen's ``tracking_secret`` (查询密码), once."""
    draft = ComplaintDraft(
        channel="hotline",
        channel_key=body.call_id,
        text=body.text,
        kind=body.kind,
        address=body.address,
        location=GeoPoint(lon=body.lon, lat=body.lat, source="operator")
        if body.lon is not None and body.lat is not None
        else None,
        reporter=Reporter(phone=body.caller_phone, name=body.caller_name),
        matter_code=body.matter_code,
        operator_id=caller.name,
    )
    draft = await flows.enrich(draft)
    draft.traceparent = current_traceparent()  # the group-commit writer stores it outside this request
    writer = runtime.extras.get("complaint_writer")
    if writer is not None:  # group commit: concurrent tickets share one transaction (it wakes the relay)
        complaint, created = await writer.submit(draft)
        if not created:
            mark_replay(response)
    else:
        complaint, created = await service.create_complaint(session, draft)
        await commit_filed(session, runtime, response, created=created)
    return ComplaintOut.model_validate(complaint).model_copy(
        update={"created": created, "tracking_secret": service.issued_secret(complaint) if created else None}
    )


@router.get("/complaints/{complaint_id}", response_model=ComplaintOut, responses=STAFF_RESPONSES)
async def read_complaint(complaint_id: str, caller: StaffDep, session: SessionDep) -> ComplaintOut:
    """A complaint with its text and address (operators, dispatchers and admins)."""
    complaint = await service.get(session, complaint_id)
    if complaint is None:
        raise NotFound(f"complaint {complaint_id} not found")
    return ComplaintOut.model_validate(complaint)
