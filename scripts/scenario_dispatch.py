#!/usr/bin/env python
"""The dispatch closed loop through a running system (``make run`` / ``linkage up``).

dispatch → sign → return → approve return → reassign → sign → extension → approve → reply →
survey 不满意 → reopen → reply → survey 满意 → closed; then the authorization matrix and tracking.

Usage: ``.venv/bin/python scripts/scenario_dispatch.py [var/linkage-up.json]`` (exit 0 when every
step did what it should). The e2e test ``tests/e2e/test_dispatch_api.py`` runs the same function.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

MATTER = "CG008"  # 渣土车抛洒滴漏: lead CGJ (城管), co-handlers JJDD (交警), ZJJ
FIRST, SECOND, OUTSIDER = "CGJ", "JJDD", "SJJ"


class ScenarioError(AssertionError):
    pass


def _check(cond: bool, what: str, response: httpx.Response | None = None) -> None:
    if not cond:
        detail = f" — HTTP {response.status_code}: {response.text[:500]}" if response is not None else ""
        raise ScenarioError(f"{what}{detail}")


def run_scenario(
    intake_url: str,
    dispatch_url: str,
    keys: dict[str, dict[str, str]],
    log: Callable[[str], None] = print,
    notify_url: str | None = None,
    operator_key: str = "",
) -> dict[str, Any]:
    """Walk one complaint through the loop; returns the final case. Raises ScenarioError on a wrong answer.

    With ``notify_url`` the citizen answers the survey the way a real one does: through notify
    (SMS reply / survey page) → ``linkage.feedback.v1`` → dispatch; without it, the dispatcher records it.
    ``operator_key`` is the hotline operator's X-API-Key that files the complaint."""
    handler = keys["handler"]
    dispatcher = next(iter(keys["dispatcher"].values()))
    http = httpx.Client(timeout=15)

    def h(dept: str) -> dict[str, str]:
        return {"X-API-Key": handler[dept]}

    dk = {"X-API-Key": dispatcher}

    def post(path: str, key: dict[str, str], body: dict[str, Any] | None = None, expect: int = 200) -> dict[str, Any]:
        r = http.post(f"{dispatch_url}{path}", headers=key, json=body or {})
        _check(r.status_code == expect, f"POST {path} should answer {expect}", r)
        data: dict[str, Any] = r.json()
        return data

    phone = "13912345678"
    r = http.post(
        f"{intake_url}/api/v1/complaints",
        json={
            "call_id": f"scenario-{uuid.uuid4()}",
            "caller_phone": phone,
            "caller_name": "张先生",
            "text": "建设路上渣土车一路抛洒，路面全是泥，车辆打滑",
            "address": "成华区建设路",
            "kind": "投诉",
            "matter_code": MATTER,
        },
        headers={"X-API-Key": operator_key},
    )
    _check(r.status_code == 201, "intake accepts the complaint", r)
    complaint = r.json()
    log(f"filed complaint {complaint['id']} tracking code {complaint['tracking_code']}")

    case: dict[str, Any] | None = None
    deadline = time.monotonic() + 60
    while case is None and time.monotonic() < deadline:
        items = (
            http.get(f"{dispatch_url}/api/v1/dispatch/cases", headers=dk, params={"complaint_id": complaint["id"]})
            .json()
            .get("items", [])
        )
        case = items[0] if items else None
        if case is None:
            time.sleep(0.3)
    _check(case is not None, "dispatch opened a case for the complaint")
    assert case is not None
    cid = case["id"]
    path = f"/api/v1/handler/cases/{cid}"
    dpath = f"/api/v1/dispatch/cases/{cid}"
    _check(
        case["state"] == "dispatched" and case["lead"] == FIRST, f"routed to {FIRST}: {case['state']} {case['lead']}"
    )
    log(f"case {cid}: dispatched to {FIRST}, deadline {case['deadline_at']}")

    # authorization matrix
    _check(http.get(f"{dispatch_url}{path}").status_code == 401, "no key → 401")
    _check(http.get(f"{dispatch_url}{path}", headers={"X-API-Key": "nope"}).status_code == 401, "unknown key → 401")
    r = http.get(f"{dispatch_url}{path}", headers=h(OUTSIDER))
    _check(r.status_code == 403 and r.json()["error"] == "forbidden", f"{OUTSIDER} cannot see {FIRST}'s case", r)
    post(f"{path}/sign", h(OUTSIDER), expect=403)
    post(f"{dpath}/close", h(FIRST), expect=403)
    inbox = http.get(f"{dispatch_url}/api/v1/handler/cases", headers=h(OUTSIDER), params={"limit": 200}).json()
    _check(all(c["id"] != cid for c in inbox["items"]), f"{OUTSIDER}'s inbox does not list the case")
    log("authorization: 401 without/unknown key, 403 for another department and for a handler on dispatcher API")

    post(f"{path}/sign", h(FIRST))
    err = post(f"{path}/sign", h(FIRST), expect=409)
    _check(
        err["error"] == "illegal_transition" and err["state"] == "signed" and "reply" in err["allowed_actions"],
        "signing twice is an illegal transition with the allowed actions",
    )
    post(f"{path}/return", h(FIRST), {"reason": "道路扬尘和车辆管理属交警职责，非本单位"})
    post(f"{dpath}/approve-return", dk, {"reason": "同意退单"})
    post(f"{dpath}/reassign", dk, {"lead": SECOND, "reason": "改派交警大队"})
    log(f"signed, returned, return approved, reassigned to {SECOND}")
    post(f"{path}/sign", h(FIRST), expect=403)
    post(f"/api/v1/handler/cases/{cid}/sign", h(SECOND))
    post(
        f"/api/v1/handler/cases/{cid}/progress",
        h(SECOND),
        {"note": "已到现场查处", "attachments": [{"url": "https://example.org/p/1.jpg"}]},
    )
    before = post(f"/api/v1/handler/cases/{cid}/extension", h(SECOND), {"days": 3, "reason": "需联合执法"})
    after = post(f"{dpath}/approve-extension", dk)
    _check(after["case"]["deadline_at"] > before["case"]["deadline_at"], "the approved extension moves the deadline")
    post(f"/api/v1/handler/cases/{cid}/extension", h(SECOND), {"days": 2, "reason": "again"}, expect=409)
    log("extension requested and approved (a second request is refused)")
    post(
        f"/api/v1/handler/cases/{cid}/reply",
        h(SECOND),
        {"text": "已对渣土车辆处罚并清洗路面", "attachments": [{"url": "https://example.org/p/2.jpg"}]},
    )
    surveys_sent = [0]

    def survey_token(round_no: int) -> str | None:
        """The token in the link of the citizen's ``round_no``-th survey message (development sink)."""
        r = http.get(f"{notify_url}/dev/messages", params={"tracking_code": complaint["tracking_code"]})
        if r.status_code != 200:
            return None
        asks = sorted((m for m in r.json() if m["template"] == "replied"), key=lambda m: m["created_at"])
        if len(asks) < round_no:
            return None
        return str(asks[round_no - 1]["body"].split("/survey/")[1].split()[0])

    def survey(answer: str, result: str, comment: str | None = None) -> dict[str, Any]:
        if notify_url is None:
            return post(f"{dpath}/survey", dk, {"result": result, "comment": comment})["case"]
        reopen_before = http.get(f"{dispatch_url}{dpath}", headers=dk).json()["reopen_count"]
        surveys_sent[0] += 1
        deadline = time.monotonic() + 30
        token = None
        while token is None:  # notify learns that the case was replied from the case events (asynchronously)
            token = survey_token(surveys_sent[0])
            if token is None and time.monotonic() > deadline:
                raise ScenarioError("notify sent no survey link (is the development sink on?)")
            time.sleep(0.3 if token is None else 0)
        bare = http.post(
            f"{notify_url}/api/v1/surveys/answers", json={"tracking_code": complaint["tracking_code"], "answer": answer}
        )
        _check(bare.status_code == 401, "a tracking code alone cannot rate the case", bare)
        r = http.post(
            f"{notify_url}/api/v1/surveys/answers", json={"token": token, "answer": answer, "comment": comment}
        )
        _check(r.status_code == 202, f"notify accepts the survey answer {answer} with the link's token", r)
        while time.monotonic() < deadline:  # → linkage.feedback.v1 → dispatch
            case = http.get(f"{dispatch_url}{dpath}", headers=dk).json()
            if case["state"] != "replied" and (case["state"] == "closed" or case["reopen_count"] > reopen_before):
                return case
            time.sleep(0.3)
        raise ScenarioError(f"dispatch did not apply the survey answer {answer}")

    out = survey("3", "不满意", "路面还是脏")
    _check(out["state"] == "signed" and out["reopen_count"] == 1, "不满意 → reopened (重办)")
    post(f"/api/v1/handler/cases/{cid}/reply", h(SECOND), {"text": "再次冲洗路面，已安排每日巡查"})
    out = survey("1", "满意")
    _check(out["state"] == "closed", "满意 → closed")
    log("replied, 不满意 → reopened, replied again, 满意 → closed")

    track = http.get(f"{dispatch_url}/api/v1/track/{complaint['tracking_code']}")
    _check(track.status_code == 200, "public tracking answers", track)
    _check(phone not in track.text and "张先生" not in track.text, "tracking shows no personal data")
    actions = [e["action"] for e in track.json()["history"]]
    _check(
        actions[0] == "created" and actions[-1] == "closed" and "returned" not in actions,
        f"tracking shows the public history only: {actions}",
    )
    final: dict[str, Any] = http.get(f"{dispatch_url}{dpath}", headers=dk).json()
    log(f"closed; {len(final['history'])} history entries, public tracking shows {len(actions)}")
    return final


def main() -> int:
    manifest = Path(sys.argv[1] if len(sys.argv) > 1 else "var/linkage-up.json")
    data = json.loads(manifest.read_text())
    services = data["services"]

    def url(name: str) -> str:
        return str(services[name]).rstrip("/")

    keys = data["demo"]["dispatch"]["api_keys"]
    operator_key = data["demo"]["intake"]["api_keys"]["operator"]["demo"]
    try:
        run_scenario(url("intake"), url("dispatch"), keys, notify_url=url("notify"), operator_key=operator_key)
    except ScenarioError as exc:
        print(f"SCENARIO FAILED: {exc}", file=sys.stderr)
        return 1
    print("scenario passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
