"""``/api/v1/operators``: who am I (any operator credential) and the account list (班长 only)."""

from __future__ import annotations

from fastapi import APIRouter

from services.intake.operators import service
from services.intake.operators.auth import AUTH_RESPONSES, OperatorDep, SupervisorDep
from services.intake.operators.schemas import CallerOut, OperatorOut
from shared.app import SessionDep

router = APIRouter(prefix="/api/v1/operators", tags=["operators"])


@router.get("/me", response_model=CallerOut, responses=AUTH_RESPONSES)
async def me(caller: OperatorDep) -> CallerOut:
    """The operator the console session or ``X-API-Key`` belongs to."""
    return CallerOut(
        role=caller.role,
        name=caller.name,
        display_name=caller.display_name,
        via=caller.via,
        operator_id=caller.operator_id,
        department=caller.department,
    )


@router.get("", response_model=list[OperatorOut], responses=AUTH_RESPONSES)
async def list_operators(caller: SupervisorDep, session: SessionDep) -> list[OperatorOut]:
    """Every account (no hashes), for a supervisor (班长)."""
    return [
        OperatorOut(
            username=o.username,
            display_name=o.display_name,
            role=o.role,
            disabled=o.disabled,
            has_password=o.password_hash is not None,
            created_at=o.created_at,
        )
        for o in await service.list_all(session)
    ]
