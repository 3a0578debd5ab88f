"""Grid patrol API through the running stack: authenticated worker, catalog matter, GPS, photos,
solved on the spot, outside-own-grid flag, refusals."""

from __future__ import annotations

import uuid

import httpx

from services.intake.channels.grid.auth import worker_token
from services.intake.places import default_places
from services.intake.seeds.channels import demo_workers
from tests.e2e.channels_support import DEMO, case_for, query
from tests.e2e.test_channels_app import png
from tests.support import Infra, Stack, wait_until


def url(stack: Stack) -> str:
    return f"{stack.url('intake')}/api/v1/grid/reports"


def test_worker_reports_in_and_outside_own_grid(stack: Stack, infra: Infra) -> None:
    worker = demo_workers(DEMO, 1)[0]
    headers = {"X-Worker-Token": worker["token"]}
    me = httpx.get(f"{stack.url('intake')}/api/v1/grid/me", headers=headers)
    assert me.status_code == 200 and me.json()["worker_id"] == worker["worker_id"]

    index = default_places().index
    own = worker["grids"][0]
    lon, lat = index.centroid(own)  # type: ignore[misc]
    key = str(uuid.uuid4())
    data = {
        "matter_code": "CG001",
        "text": "路口流动摊贩占道经营，已劝离",
        "lon": str(lon),
        "lat": str(lat),
        "solved_on_spot": "true",
        "client_request_id": key,
    }
    r = httpx.post(
        url(stack), data=data, files=[("photos", ("p.png", png(), "image/png"))], headers=headers, timeout=20
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["channel"] == "grid" and body["matter_code"] == "CG001" and body["category"] == "CG"
    assert body["solved_on_spot"] is True and body["outside_own_grid"] is False
    assert body["grid_code"] == own and len(body["photos"]) == 1
    again = httpx.post(url(stack), data=data, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    wait_until(lambda: case_for(stack, body["id"]), message="grid case in dispatch")

    other = next(g for g in index.grids() if g.grid_code not in worker["grids"])
    olon, olat = index.centroid(other.grid_code)  # type: ignore[misc]
    outside = httpx.post(
        url(stack),
        json={"matter_code": "SZ001", "lon": olon, "lat": olat, "client_request_id": str(uuid.uuid4())},
        headers=headers,
    )
    assert outside.status_code == 201, outside.text
    assert outside.json()["outside_own_grid"] is True and outside.json()["grid_code"] == other.grid_code
    assert outside.json()["text"].startswith("网格员巡查上报")
    row = query(infra, "SELECT outside_own_grid, operator_id FROM complaints WHERE id = :i", i=outside.json()["id"])
    assert row == [{"outside_own_grid": True, "operator_id": worker["worker_id"]}]


def test_refusals(stack: Stack, infra: Infra) -> None:
    worker = demo_workers(DEMO, 2)[1]
    headers = {"X-Worker-Token": worker["token"]}
    key = str(uuid.uuid4())
    body = {"matter_code": "CG001", "text": "占道经营", "client_request_id": key}
    assert httpx.post(url(stack), json=body).status_code == 401
    forged = worker_token("wrong-secret", worker["worker_id"])
    r = httpx.post(url(stack), json=body, headers={"X-Worker-Token": forged})
    assert r.status_code == 401 and r.json()["header"] == "X-Worker-Token"
    unknown = httpx.post(url(stack), json={**body, "matter_code": "ZZ999"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["fields"][0]["field"] == "matter_code"
    missing = httpx.post(url(stack), json={"text": "x", "client_request_id": key}, headers=headers)
    assert missing.status_code == 422 and missing.json()["fields"][0]["field"] == "matter_code"
    not_image = httpx.post(
        url(stack),
        data={"matter_code": "CG001", "client_request_id": key},
        headers=headers,
        files=[("photos", ("x.jpg", b"%PDF-1.4 nope", "image/jpeg"))],
    )
    assert not_image.status_code == 415 and not_image.json()["field"] == "photos[0]"
    channel_key = f"{worker['worker_id']}:{key}"
    assert query(infra, "SELECT id FROM complaints WHERE channel_key = :k", k=channel_key) == []
