"""The case state machine (pure: no I/O, no clock; the caller passes ``now``).

States (DOMAIN.md "The case life cycle")::

    accepted ─┬─ transfer ─> transferred                (紧急警情 → 110/119/120/122; terminal)
              ├─ answer ──> answered ── close ─> closed  (咨询 answered from the knowledge base)
              ├─ triage ──> triage ── dispatch/arbitrate ─┐
              └─ dispatch ────────────────────────────────┴─> dispatched ── sign ─> signed
    dispatched|signed ── return ─> returned ── approve_return ─> triage
                                             └ deny_return ───> (back where it was)
    signed ── reply ─> replied ── survey ─> surveyed ── close ─> closed
                               └ verify ──> verified ── close ─> closed    (核查, grid cases)
    surveyed|replied|verified|closed ── reopen ─> signed                     (重办, once)
    dispatched|signed ── suspend ─> suspended ── resume ─> (back where it was; the clock stops)
    any open state ── merge ─> merged ── close ─> closed                      (并单: follows the master)
    merged ── unmerge ─> triage                                              (取消并单: handled on its own again)
    accepted ── solve_on_spot ─> verified ── close ─> closed                 (就地解决: a grid worker solved it)

Self-loops (state unchanged, recorded): progress, request/approve/deny extension, whistle, report,
warn, urge, supervise, publicize, correct (更正分类: the dispatcher's kind/matter label, kept for retraining).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

STATES: tuple[str, ...] = (
    "accepted",
    "triage",
    "transferred",
    "answered",
    "dispatched",
    "signed",
    "returned",
    "suspended",
    "replied",
    "verified",
    "surveyed",
    "merged",
    "closed",
)
TERMINAL: frozenset[str] = frozenset({"transferred", "closed"})
OPEN_STATES: frozenset[str] = frozenset(STATES) - TERMINAL - {"merged"}
WORKING: frozenset[str] = frozenset({"dispatched", "signed"})

# Command name -> the action recorded in history and in the event type (shared.events.cases.CASE_ACTIONS).
ACTIONS: dict[str, str] = {
    "create": "created",
    "transfer": "transferred",
    "answer": "answered",
    "triage": "triaged",
    "dispatch": "dispatched",
    "sign": "signed",
    "return": "returned",
    "approve_return": "return_approved",
    "deny_return": "return_denied",
    "reassign": "reassigned",
    "arbitrate": "arbitrated",
    "progress": "progressed",
    "request_extension": "extension_requested",
    "approve_extension": "extension_approved",
    "deny_extension": "extension_denied",
    "suspend": "suspended",
    "resume": "resumed",
    "reply": "replied",
    "survey": "surveyed",
    "reopen": "reopened",
    "verify": "verified",
    "merge": "merged",
    "whistle": "whistled",
    "report": "reported",
    "close": "closed",
    "warn": "warned",
    "urge": "urged",
    "supervise": "supervised",
    "publicize": "publicized",
    "unmerge": "unmerged",
    "correct": "corrected",
    "solve_on_spot": "solved_on_spot",
}
PAST_TO_COMMAND: dict[str, str] = {v: k for k, v in ACTIONS.items()}

MAX_REOPENS = 1
MAX_EXTENSION_DAYS = 10
SATISFIED_RESULTS = frozenset({"满意", "基本满意", "未评价"})
SURVEY_RESULTS = frozenset({"满意", "基本满意", "不满意", "未评价"})

_SOURCES: dict[str, frozenset[str]] = {
    "create": frozenset(),
    "transfer": frozenset({"accepted", "triage"}),
    "answer": frozenset({"accepted", "triage"}),
    "triage": frozenset({"accepted"}),
    "dispatch": frozenset({"accepted", "triage"}),
    "sign": frozenset({"dispatched"}),
    "return": WORKING,
    "approve_return": frozenset({"returned"}),
    "deny_return": frozenset({"returned"}),
    "reassign": frozenset({"triage", "dispatched", "signed"}),
    "arbitrate": frozenset({"triage", "returned"}),
    "progress": frozenset({"signed"}),
    "request_extension": frozenset({"signed"}),
    "approve_extension": frozenset({"signed"}),
    "deny_extension": frozenset({"signed"}),
    "suspend": WORKING,
    "resume": frozenset({"suspended"}),
    "reply": frozenset({"signed"}),
    "survey": frozenset({"replied", "verified"}),
    "reopen": frozenset({"replied", "verified", "surveyed", "closed"}),
    "verify": frozenset({"replied"}),
    "merge": frozenset({"accepted", "triage", "dispatched", "signed", "returned", "suspended"}),
    "whistle": WORKING | {"triage"},
    "report": WORKING | {"triage"},
    "close": frozenset({"answered", "triage", "replied", "verified", "surveyed", "merged"}),
    "warn": WORKING | {"returned", "suspended"},
    "urge": WORKING | {"returned", "triage"},
    "supervise": WORKING | {"returned", "triage", "surveyed", "replied"},
    "publicize": WORKING | {"returned", "triage", "suspended"},
    "unmerge": frozenset({"merged"}),
    "correct": frozenset(STATES) - TERMINAL,
    "solve_on_spot": frozenset({"accepted"}),
}


class IllegalTransition(Exception):
    """The action is not allowed in the case's current state (or a guard refuses it)."""

    def __init__(self, state: str, action: str, allowed: list[str], why: str | None = None) -> None:
        self.state = state
        self.action = action
        self.allowed = allowed
        self.why = why or f"{action!r} is not allowed in state {state!r}"
        super().__init__(self.why)


@dataclass(frozen=True)
class Snapshot:
    """What the state machine needs to know about a case."""

    state: str = "accepted"
    channel: str = "hotline"
    lead: str | None = None
    reopen_count: int = 0
    extension_status: str | None = None  # None | requested | approved | denied
    returned_from: str | None = None
    suspended_from: str | None = None
    return_deadline_at: datetime | None = None
    whistle_pending: frozenset[str] = frozenset()
    merged_into: str | None = None

    @property
    def needs_verification(self) -> bool:
        """核查: grid-found cases are verified by a grid worker before they close."""
        return self.channel == "grid"


def command_of(action: str) -> str:
    """Accept either the command (``sign``) or the recorded action (``signed``)."""
    if action in ACTIONS:
        return action
    if action in PAST_TO_COMMAND:
        return PAST_TO_COMMAND[action]
    raise KeyError(f"unknown case action {action!r}")


def _guard(snap: Snapshot, command: str, now: datetime | None, params: dict[str, Any]) -> str | None:
    """Why ``command`` is refused in ``snap`` (``None``: allowed). ``params`` may be empty when
    only asking what is allowed; then parameter checks are skipped."""
    if snap.state not in _SOURCES[command]:
        return f"{command!r} is not allowed in state {snap.state!r}"
    if command == "return":
        if now is not None and snap.return_deadline_at is not None and now > snap.return_deadline_at:
            return "the return window (退单时限) has passed"
        if params and not str(params.get("reason") or "").strip():
            return "a return needs a reason"
    if command == "request_extension":
        if snap.extension_status is not None:
            return "an extension can be requested once per case"
        days = params.get("days")
        if days is not None and not (1 <= int(days) <= MAX_EXTENSION_DAYS):
            return f"an extension is 1 to {MAX_EXTENSION_DAYS} working days"
    if command in ("approve_extension", "deny_extension") and snap.extension_status != "requested":
        return "no extension request is pending"
    if command == "reopen" and snap.reopen_count >= MAX_REOPENS:
        return f"a case is reopened at most {MAX_REOPENS} time(s); supervise instead"
    if command == "verify" and not snap.needs_verification:
        return "only grid-found cases are verified (核查)"
    if command == "survey":
        if snap.needs_verification and snap.state != "verified":
            return "a grid-found case is verified before the survey"
        result = params.get("result")
        if params and result not in SURVEY_RESULTS:
            return f"survey result must be one of {', '.join(sorted(SURVEY_RESULTS))}"
    if command == "close" and snap.state == "replied" and snap.needs_verification:
        return "a grid-found case is verified (核查) before it closes"
    if (
        command == "report"
        and params.get("department") is not None
        and params["department"] not in snap.whistle_pending
    ):
        return "this department was not convened (吹哨) or has already reported"
    if command == "report" and not snap.whistle_pending:
        return "no department is waiting to report"
    if command == "solve_on_spot" and snap.channel != "grid":
        return "only a grid worker's report is solved on the spot (就地解决)"
    if command == "merge" and params and not params.get("master_id"):
        return "a merge needs the master case"
    if command in ("dispatch", "reassign", "arbitrate") and params and not params.get("lead"):
        return f"{command} needs the lead department"
    return None


def allowed_actions(snap: Snapshot, now: datetime | None = None) -> list[str]:
    """Commands allowed now (parameter checks aside), in a stable order."""
    return [c for c in ACTIONS if c != "create" and _guard(snap, c, now, {}) is None]


def next_state(snap: Snapshot, command: str, params: dict[str, Any]) -> str:
    if command in (
        "transfer",
        "answer",
        "triage",
        "dispatch",
        "sign",
        "return",
        "suspend",
        "reply",
        "survey",
        "verify",
        "merge",
        "close",
    ):
        if command == "verify" and not params.get("passed", True):
            return "signed"
        return {
            "transfer": "transferred",
            "answer": "answered",
            "triage": "triage",
            "dispatch": "dispatched",
            "sign": "signed",
            "return": "returned",
            "suspend": "suspended",
            "reply": "replied",
            "survey": "surveyed",
            "verify": "verified",
            "merge": "merged",
            "close": "closed",
        }[command]
    if command == "approve_return":
        return "triage"
    if command == "deny_return":
        return snap.returned_from or "dispatched"
    if command in ("reassign", "arbitrate"):
        return "dispatched"
    if command == "resume":
        return snap.suspended_from or "signed"
    if command == "unmerge":
        return "triage"
    if command == "reopen":
        return "signed"
    if command == "solve_on_spot":
        return "verified"  # the worker's photo of the result is the 核查; the case closes at once
    return snap.state  # self-loops


def apply(snap: Snapshot, action: str, *, now: datetime | None = None, **params: Any) -> Snapshot:
    """The snapshot after ``action``; raises :class:`IllegalTransition` if it is not allowed."""
    command = command_of(action)
    if command == "create":
        raise IllegalTransition(snap.state, command, allowed_actions(snap, now), "a case is created only once")
    why = _guard(snap, command, now, params)
    if why is not None:
        raise IllegalTransition(snap.state, command, allowed_actions(snap, now), why)
    new = replace(snap, state=next_state(snap, command, params))
    if command == "return":
        new = replace(new, returned_from=snap.state)
    elif command in ("approve_return", "deny_return"):
        new = replace(new, returned_from=None)
    elif command == "suspend":
        new = replace(new, suspended_from=snap.state)
    elif command == "resume":
        new = replace(new, suspended_from=None)
    elif command == "request_extension":
        new = replace(new, extension_status="requested")
    elif command == "approve_extension":
        new = replace(new, extension_status="approved")
    elif command == "deny_extension":
        new = replace(new, extension_status="denied")
    elif command == "reopen" or (command == "verify" and not params.get("passed", True)):
        new = replace(new, reopen_count=snap.reopen_count + 1)
    elif command in ("dispatch", "reassign", "arbitrate"):
        new = replace(new, lead=params.get("lead", snap.lead))
    elif command == "whistle":
        new = replace(new, whistle_pending=snap.whistle_pending | frozenset(params.get("departments") or ()))
    elif command == "report" and params.get("department"):
        new = replace(new, whistle_pending=snap.whistle_pending - {params["department"]})
    elif command == "merge":
        new = replace(new, merged_into=params.get("master_id"))
    elif command == "unmerge":
        new = replace(new, merged_into=None)
    if new.state != "returned":
        new = replace(new, returned_from=None)
    if new.state != "suspended":
        new = replace(new, suspended_from=None)
    return new
