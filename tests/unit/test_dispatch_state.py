"""The pure case state machine: every transition, illegal ones, and properties over random sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatch.case import state as sm
from services.dispatch.case.state import IllegalTransition, Snapshot, allowed_actions, apply

NOW = datetime(2026, 10, 9, 2, tzinfo=UTC)
PARAMS: dict[str, dict[str, object]] = {
    "dispatch": {"lead": "CGJ"},
    "reassign": {"lead": "SJJ"},
    "arbitrate": {"lead": "HBJ"},
    "return": {"reason": "非本单位职责"},
    "request_extension": {"days": 5},
    "survey": {"result": "满意"},
    "merge": {"master_id": "M1"},
    "whistle": {"departments": ["SJJ"]},
    "report": {"department": "SJJ"},
    "verify": {"passed": True},
}


def run(*steps: str | tuple[str, dict[str, object]], snap: Snapshot | None = None) -> Snapshot:
    snap = snap or Snapshot()
    for step in steps:
        action, params = (step, PARAMS.get(step, {})) if isinstance(step, str) else step
        snap = apply(snap, action, now=NOW, **params)
    return snap


@pytest.mark.parametrize(
    ("steps", "state"),
    [
        (("transfer",), "transferred"),
        (("answer", "close"), "closed"),
        (("triage", "dispatch"), "dispatched"),
        (("triage", "arbitrate"), "dispatched"),
        (("dispatch", "sign"), "signed"),
        (("dispatch", "return"), "returned"),
        (("dispatch", "sign", "return", "approve_return"), "triage"),
        (("dispatch", "sign", "return", "deny_return"), "signed"),
        (("dispatch", "return", "deny_return"), "dispatched"),
        (("dispatch", "return", "arbitrate"), "dispatched"),
        (("dispatch", "sign", "reassign"), "dispatched"),
        (("dispatch", "sign", "progress"), "signed"),
        (("dispatch", "sign", "request_extension", "approve_extension"), "signed"),
        (("dispatch", "sign", "request_extension", "deny_extension"), "signed"),
        (("dispatch", "sign", "suspend"), "suspended"),
        (("dispatch", "suspend", "resume"), "dispatched"),
        (("dispatch", "sign", "suspend", "resume"), "signed"),
        (("dispatch", "sign", "reply"), "replied"),
        (("dispatch", "sign", "reply", "survey"), "surveyed"),
        (("dispatch", "sign", "reply", "survey", "close"), "closed"),
        (("dispatch", "sign", "reply", "survey", "reopen"), "signed"),
        (("dispatch", "sign", "reply", "survey", "close", "reopen"), "signed"),
        (("dispatch", "merge"), "merged"),
        (("dispatch", "merge", "close"), "closed"),
        (("dispatch", "sign", "whistle", "report"), "signed"),
        (("dispatch", "warn", "urge", "supervise", "publicize"), "dispatched"),
    ],
)
def test_every_transition(steps: tuple[str, ...], state: str) -> None:
    assert run(*steps).state == state


def test_grid_cases_are_verified_before_closing() -> None:
    grid = Snapshot(channel="grid")
    replied = run("dispatch", "sign", "reply", snap=grid)
    with pytest.raises(IllegalTransition):
        apply(replied, "close")
    with pytest.raises(IllegalTransition):
        apply(replied, "survey", result="满意")
    assert apply(replied, "verify", passed=True).state == "verified"
    failed = apply(replied, "verify", passed=False)
    assert failed.state == "signed" and failed.reopen_count == 1
    assert apply(apply(replied, "verify", passed=True), "close").state == "closed"
    with pytest.raises(IllegalTransition, match="grid"):
        run("dispatch", "sign", "reply", "verify")


def test_illegal_transition_names_state_and_allowed_actions() -> None:
    with pytest.raises(IllegalTransition) as err:
        run("dispatch", "reply")
    assert err.value.state == "dispatched"
    assert "sign" in err.value.allowed and "reply" not in err.value.allowed


@pytest.mark.parametrize(
    ("steps", "why"),
    [
        (("dispatch", "sign", "request_extension", "request_extension"), "once"),
        (("dispatch", "sign", ("request_extension", {"days": 11})), "at most|1 to 10"),
        (("dispatch", "sign", "approve_extension"), "no extension"),
        (("dispatch", ("return", {"reason": " "})), "reason"),
        (("dispatch", "sign", "reply", "survey", "reopen", "reply", "survey", "reopen"), "at most"),
        (("dispatch", "sign", "report"), "no department|not convened"),
        (("dispatch", "sign", "whistle", ("report", {"department": "XXX"})), "not convened"),
        (("dispatch", ("reassign", {"lead": ""})), "lead"),
        (("dispatch", "sign", "reply", ("survey", {"result": "好"})), "survey result"),
        (("transfer", "dispatch"), "not allowed"),
        (("dispatch", "sign", "reply", "survey", "close", "close"), "not allowed"),
    ],
)
def test_guards(steps: tuple[str | tuple[str, dict[str, object]], ...], why: str) -> None:
    with pytest.raises(IllegalTransition, match=why):
        run(*steps)


def test_return_only_within_the_return_window() -> None:
    snap = run("dispatch", "sign")
    open_window = Snapshot(**{**snap.__dict__, "return_deadline_at": NOW + timedelta(hours=1)})
    assert apply(open_window, "return", now=NOW, reason="不归我").state == "returned"
    closed_window = Snapshot(**{**snap.__dict__, "return_deadline_at": NOW - timedelta(hours=1)})
    with pytest.raises(IllegalTransition, match="return window"):
        apply(closed_window, "return", now=NOW, reason="不归我")
    assert "return" not in allowed_actions(closed_window, NOW)


def test_past_tense_action_names_are_accepted() -> None:
    assert run("dispatched", "signed").state == "signed"
    with pytest.raises(KeyError):
        sm.command_of("flew")


COMMANDS = [c for c in sm.ACTIONS if c != "create"]


@settings(max_examples=400, deadline=None)
@given(
    channel=st.sampled_from(["hotline", "grid"]),
    steps=st.lists(
        st.tuples(st.sampled_from(COMMANDS), st.booleans(), st.sampled_from(list(sm.SURVEY_RESULTS))), max_size=40
    ),
)
def test_random_sequences_keep_the_invariants(channel: str, steps: list[tuple[str, bool, str]]) -> None:
    snap = Snapshot(channel=channel)
    extensions = 0
    for command, flag, result in steps:
        params: dict[str, object] = dict(PARAMS.get(command, {}))
        if command == "verify":
            params["passed"] = flag
        if command == "survey":
            params["result"] = result
        allowed = command in allowed_actions(snap, NOW)
        try:
            new = apply(snap, command, now=NOW, **params)
        except IllegalTransition as exc:
            assert exc.state == snap.state and command not in exc.allowed or not allowed or params
            continue
        assert allowed, f"{command} applied but not listed as allowed in {snap.state}"
        if snap.state == "closed":
            assert command == "reopen" and snap.reopen_count < sm.MAX_REOPENS
        if snap.state == "transferred":
            pytest.fail("transferred is terminal")
        if command == "request_extension":
            extensions += 1
        snap = new
        assert snap.state in sm.STATES
        assert extensions <= 1
        assert snap.reopen_count <= sm.MAX_REOPENS + sum(1 for c, f, _ in steps if c == "verify" and not f)
        assert (snap.state == "suspended") == (snap.suspended_from is not None)
        assert (snap.state == "returned") == (snap.returned_from is not None)
    assert allowed_actions(Snapshot(state="transferred")) == []
