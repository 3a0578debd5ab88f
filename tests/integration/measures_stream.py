"""A generated case-event stream (many cases, every kind of transition) and a brute-force recount of every measure
straight from those raw events, written independently of the projection (no code shared with it).

The cases walk dispatch's own state machine (``services.dispatch.case.state``): created, routed (transfer,
直接答复, triage, dispatch), signed or not (sometimes long after 24 h), returned (approved, denied, arbitrated),
reassigned, suspended and resumed, extended, merged and unmerged, whistled, replied on time or late, verified
(grid cases, sometimes failing), surveyed (满意/基本满意/不满意/未评价, some with the citizen's own 已解决 answer)
and closed, reopened, supervised, corrected; some are left open; some are placed on the map only later.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.dispatch.case import state as sm
from shared.events.cases import CaseEventV1, case_event
from shared.events.complaints import PlaceRef, Reporter

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 9, 25, 0, 0, tzinfo=UTC)
SPAN_DAYS = 70
NOW = START + timedelta(days=SPAN_DAYS + 6)  # the "now" every figure is computed at
CHANNELS = ("hotline", "wechat", "app", "grid", "open311")
CATEGORIES = ("CG", "SZ", "HB", "JT", "SC", "ZF", "MZ")
LEADS = ("CGJ", "ZJJ", "SWJ", "HBJ", "JTJ", "SJJ", "GDGS", "S01", "S02", "S03", "S04", "S05")
GRIDS = ("S01C01G01", "S01C02G03", "S02C01G02", "S02C03G05", "S03C02G01", "S04C01G04", "S05C02G02", "S05C04G01")
RESULTS = ("满意", "基本满意", "不满意", "未评价")
SECRET_NAME, SECRET_PHONE = "测试隐私姓名", "13900001234"


@dataclass
class Sim:
    case_id: str
    tracking_code: str
    rng: random.Random
    channel: str
    category: str
    received_at: datetime
    grid: str | None
    snap: sm.Snapshot = field(default_factory=sm.Snapshot)
    at: datetime = START
    deadline: datetime | None = None
    lead: str | None = None
    events: list[CaseEventV1] = field(default_factory=list)

    def place(self) -> PlaceRef | None:
        if self.grid is None:
            return PlaceRef()
        return PlaceRef(street_code=self.grid[:3], grid_code=self.grid)

    def emit(self, action: str, **details: Any) -> None:
        before = self.snap.state
        command = sm.command_of(action) if action != "created" else "create"
        if command != "create":
            self.snap = sm.apply(self.snap, command, now=self.at, reason="x", **details)
        self.lead = self.snap.lead
        recorded = sm.ACTIONS.get(command, action)
        # a few dispatches carry no sign deadline: the configured fallback applies
        if recorded in ("dispatched", "reassigned", "arbitrated") and self.rng.random() < 0.95:
            details["sign_deadline_at"] = str(self.at + timedelta(hours=self.rng.uniform(0.5, 8)))
        self.events.append(
            case_event(
                recorded,
                case_id=self.case_id,
                tracking_code=self.tracking_code,
                complaint_id="cmp-" + self.case_id,
                from_state=None if recorded == "created" else before,
                to_state=self.snap.state,
                actor="test",
                at=self.at,
                channel=self.channel,
                kind="投诉",
                category=self.category,
                matter_code=self.category + "001",
                lead=self.lead,
                place=self.place(),
                deadline=self.deadline,
                received_at=self.received_at,
                reporter=Reporter(name=SECRET_NAME, phone=SECRET_PHONE) if recorded == "created" else None,
                details=details,
            )
        )

    def later(self, low_h: float, high_h: float) -> None:
        self.at += timedelta(hours=self.rng.uniform(low_h, high_h))


def _pick(rng: random.Random, options: dict[str, float], allowed: set[str]) -> str | None:
    items = [(k, w) for k, w in options.items() if k in allowed and w > 0]
    if not items:
        return None
    total = sum(w for _, w in items)
    x = rng.uniform(0, total)
    for k, w in items:
        x -= w
        if x <= 0:
            return k
    return items[-1][0]


WALK: dict[str, dict[str, float]] = {
    "triage": {"dispatch": 8, "arbitrate": 1, "urge": 0.5, "correct": 0.5, "merge": 0.4},
    "dispatched": {
        "sign": 10,
        "return": 1.6,
        "reassign": 0.6,
        "suspend": 0.4,
        "urge": 0.5,
        "warn": 0.5,
        "merge": 0.2,
        "whistle": 0.2,
    },
    "signed": {
        "reply": 8,
        "progress": 1,
        "request_extension": 0.8,
        "approve_extension": 3,
        "deny_extension": 1,
        "return": 0.6,
        "suspend": 0.4,
        "reassign": 0.3,
        "supervise": 0.3,
        "correct": 0.3,
        "whistle": 0.2,
        "report": 2,
    },
    "returned": {"approve_return": 6, "deny_return": 3, "arbitrate": 1},
    "suspended": {"resume": 1},
    "replied": {"survey": 8, "verify": 8, "reopen": 0.4, "close": 0.8},
    "verified": {"survey": 6, "close": 1},
    "merged": {"close": 3, "unmerge": 1},
    "closed": {"reopen": 0.3},
}


def simulate(n_cases: int, seed: int = 20261207) -> list[CaseEventV1]:
    """Events of ``n_cases`` cases, interleaved by time (each case's own events stay in order)."""
    rng = random.Random(seed)
    masters: list[str] = []
    all_events: list[CaseEventV1] = []
    for i in range(n_cases):
        received = START + timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
        grid = rng.choice(GRIDS) if rng.random() < 0.85 else None
        channel = rng.choice(CHANNELS)
        s = Sim(
            case_id=f"C{i:05d}".ljust(26, "0"),
            tracking_code=f"2610{i:06d}ABC",
            rng=rng,
            channel=channel,
            category=rng.choice(CATEGORIES),
            received_at=received,
            grid=grid,
            snap=sm.Snapshot(channel=channel),
            at=received + timedelta(seconds=rng.uniform(1, 30)),
            deadline=received + timedelta(days=5),
        )
        s.emit("created")
        route = rng.random()
        if route < 0.03:
            s.later(0, 0.01)
            s.emit("transfer", service="110")
        elif route < 0.09:
            s.later(0, 0.01)
            s.emit("answer")
            s.emit("close")
        elif route < 0.25:
            s.later(0, 0.01)
            s.emit("triage")
        else:
            s.later(0, 0.01)
            s.emit("dispatch", lead=rng.choice(LEADS))
        if s.grid is None and rng.random() < 0.5:  # the location arrives later (a WeChat user sends it)
            s.later(0.1, 2)
            s.grid = rng.choice(GRIDS)
            s.events.append(
                case_event(
                    "supplemented",
                    case_id=s.case_id,
                    tracking_code=s.tracking_code,
                    from_state=s.snap.state,
                    to_state=s.snap.state,
                    actor="citizen",
                    at=s.at,
                    channel=s.channel,
                    category=s.category,
                    lead=s.lead,
                    place=PlaceRef(street_code=s.grid[:3], grid_code=s.grid),
                    deadline=s.deadline,
                    received_at=s.received_at,
                )
            )
        stop_early = rng.random() < 0.12
        for _step in range(40):
            if s.snap.state in ("transferred",) or (stop_early and rng.random() < 0.25):
                break
            if s.snap.state == "closed" and rng.random() < 0.85:
                break
            allowed = set(sm.allowed_actions(s.snap, s.at))
            options = WALK.get(s.snap.state, {})
            command = _pick(rng, options, allowed)
            if command is None:
                break
            _step_once(s, command, masters)
        if s.snap.state in ("dispatched", "signed", "triage", "closed"):
            masters.append(s.case_id)
        all_events.extend(s.events)
    all_events.sort(key=lambda e: (e.at, e.case_id))
    return all_events


def _step_once(s: Sim, command: str, masters: list[str]) -> None:
    rng = s.rng
    if command == "sign":
        # mostly within hours, often past the sign deadline, sometimes past 24 h
        s.later(0.05, 1) if rng.random() < 0.5 else s.later(1, 40)
        s.emit("sign")
    elif command in ("dispatch", "reassign", "arbitrate"):
        s.later(0.1, 30)
        s.emit(command, lead=rng.choice([x for x in LEADS if x != s.snap.lead]))
    elif command == "return":
        s.later(0.1, 30)
        s.emit("return")
    elif command in ("approve_return", "deny_return"):
        s.later(0.5, 20)
        s.emit(command)
    elif command == "request_extension":
        s.later(1, 48)
        s.emit(command, days=rng.randint(1, 10))
    elif command in ("approve_extension", "deny_extension"):
        s.later(1, 24)
        if command == "approve_extension" and s.deadline is not None:
            s.deadline += timedelta(days=rng.randint(1, 5))
        s.emit(command)
    elif command == "suspend":
        s.later(1, 24)
        s.emit("suspend")
    elif command == "resume":
        s.later(2, 72)
        if s.deadline is not None:
            s.deadline += timedelta(days=rng.randint(0, 3))
        s.emit("resume")
    elif command == "reply":
        s.later(2, 24 * 8)
        s.emit("reply", text="已处理")
    elif command == "verify":
        s.later(1, 48)
        passed = rng.random() < 0.8
        if not passed:
            s.deadline = s.at + timedelta(days=5)
        s.emit("verify", passed=passed)
    elif command == "survey":
        s.later(1, 72)
        result = rng.choice(RESULTS)
        details: dict[str, Any] = {"result": result}
        if rng.random() < (0.5 if result != "未评价" else 0.2):
            # the citizen's own answer to 您反映的问题解决了吗？ (the survey page, an SMS reply with 已解决/未解决,
            # a dispatcher's phone 回访), independent of the result: 不满意 but solved and 满意 but unsolved too;
            # the rest carry none, like events from before the question was asked
            details["solved"] = rng.random() < 0.6
        s.emit("survey", **details)
        if result in sm.SATISFIED_RESULTS:
            s.emit("close", result=result)
        elif s.snap.reopen_count < sm.MAX_REOPENS:
            s.deadline = s.at + timedelta(days=5)
            s.emit("reopen")
        else:
            s.emit("supervise")
            s.emit("close", result=result)
    elif command == "reopen":
        s.later(1, 72)
        s.deadline = s.at + timedelta(days=5)
        s.emit("reopen")
    elif command == "close":
        s.later(0.5, 24)
        s.emit("close")
    elif command == "merge":
        if not masters:
            return
        s.later(0.1, 5)
        s.emit("merge", master_id=rng.choice(masters))
    elif command == "unmerge":
        s.later(1, 24)
        s.emit("unmerge")
    elif command == "whistle":
        s.later(0.1, 5)
        s.emit("whistle", departments=rng.sample(LEADS[:6], 2))
    elif command == "report":
        pending = sorted(s.snap.whistle_pending)
        if pending:
            s.later(0.1, 1)
            s.emit("report", department=pending[0])
    elif command == "correct":
        s.later(0.1, 5)
        s.category = rng.choice(CATEGORIES)
        s.emit("correct")
    else:  # urge, warn, supervise, progress: recorded self-loops
        s.later(0.5, 12)
        s.emit(command, **({"level": "yellow"} if command in ("warn", "urge") else {}))


# --------------------------------------------------------------------------------------------- brute force
def local_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(first, time(0), tzinfo=SHANGHAI),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=SHANGHAI),
    )


def recount(
    events: list[CaseEventV1],
    first: date,
    last: date,
    group_by: str,
    *,
    now: datetime,
    satisfaction: dict[str, float | None],
    solved_results: tuple[str, ...],
    window_h: float = 24,
    fallback_h: float = 2,
) -> dict[str, dict[str, Any]]:
    """Every count of the measures for one period and grouping, from the raw events (one pass per case)."""
    start, end = local_bounds(first, last)
    inside = lambda t: start <= t < end  # noqa: E731
    by_case: dict[str, list[CaseEventV1]] = defaultdict(list)
    for e in events:
        by_case[e.case_id].append(e)
    out: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(float))

    for case_events in by_case.values():
        # the case's current attributes: the last known value of each
        category = channel = street = grid = None
        lead_now = None
        state_now = deadline_now = None
        for e in case_events:
            category = e.category or category
            channel = e.channel or channel
            if e.place and e.place.grid_code:
                grid = e.place.grid_code
            if e.place and (e.place.street_code or e.place.grid_code):
                street = e.place.street_code or e.place.grid_code[:3]  # type: ignore[index]
            lead_now, state_now, deadline_now = e.lead, e.to_state, e.deadline
        dims = {
            "total": "*",
            "street": street or "-",
            "grid": grid or "-",
            "category": category or "-",
            "channel": channel or "-",
        }

        def key(department: str | None, dims: dict[str, str] = dims) -> str:
            if group_by == "department":
                return department or "-"
            return dims[group_by]

        received_at = case_events[0].received_at or case_events[0].at
        if inside(received_at):
            out[key(lead_now)]["received"] += 1
        clock_runs = state_now in ("triage", "dispatched", "signed", "returned")
        if clock_runs and deadline_now is not None and deadline_now < now:
            out[key(lead_now)]["overdue_open"] += 1

        returns = reopens = 0
        current: dict[str, Any] | None = None
        assignments: list[dict[str, Any]] = []
        for e in case_events:
            a = e.action
            if a in ("dispatched", "reassigned", "arbitrated"):
                if current is not None:
                    current["ended"] = e.at
                due = e.details.get("sign_deadline_at")
                current = {
                    "dept": e.lead,
                    "at": e.at,
                    "due": datetime.fromisoformat(due) if due else e.at + timedelta(hours=fallback_h),
                    "signed": None,
                    "returned": None,
                    "ended": None,
                }
                assignments.append(current)
            elif a == "signed" and current is not None and current["signed"] is None:
                current["signed"] = e.at
            elif a == "returned":
                returns += 1
                if current is not None and current["returned"] is None:
                    current["returned"] = e.at
            elif a == "reopened" or (a == "verified" and e.to_state == "signed"):
                reopens += 1
            elif a == "replied" and inside(e.at):
                k = key(e.lead)
                out[k]["replied"] += 1
                if e.deadline is None or e.at <= e.deadline:
                    out[k]["replied_on_time"] += 1
            elif a == "surveyed" and inside(e.at):
                k = key(e.lead)
                result = e.details.get("result")
                own = e.details.get("solved")
                out[k]["surveyed"] += 1
                out[k]["survey:" + str(result)] += 1
                weight = satisfaction.get(str(result))
                if weight is not None:
                    out[k]["rated"] += 1
                    out[k]["satisfaction_points"] += weight
                if isinstance(own, bool) or result != "未评价":
                    out[k]["solve_base"] += 1
                    if own if isinstance(own, bool) else result in solved_results:
                        out[k]["solved"] += 1
            if a == "closed" and e.from_state != "merged" and inside(e.at):
                k = key(e.lead)
                out[k]["closed"] += 1
                if returns == 0 and reopens == 0:
                    out[k]["closed_one_time"] += 1
                if reopens > 0:
                    out[k]["closed_reopened"] += 1
            if a in ("return_approved", "merged", "transferred", "closed") and current is not None:
                current["ended"] = e.at
                current = None

        for asg in assignments:
            if not inside(asg["at"]):
                continue
            k = key(asg["dept"])
            out[k]["assigned"] += 1
            if asg["returned"] is not None:
                out[k]["returned"] += 1
            for name, limit in (("24h", asg["at"] + timedelta(hours=window_h)), ("resp", asg["due"])):
                signed = asg["signed"]
                if signed is not None:
                    due = True
                    ok = signed <= limit
                else:
                    left = [t for t in (asg["returned"], asg["ended"]) if t is not None]
                    due = all(t >= limit for t in left) and limit <= now
                    ok = False
                if due:
                    out[k]["sign_due_24h" if name == "24h" else "response_due"] += 1
                if ok:
                    out[k]["signed_24h" if name == "24h" else "responded"] += 1
    return {k: dict(v) for k, v in out.items()}
