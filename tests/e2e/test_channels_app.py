"""Citizen app API through the running stack: multipart photos + GPS → complaint → case; 随手拍, 我要代办;
photos checked by content and size; idempotency by client request id; status by tracking code."""

from __future__ import annotations

import hashlib
import uuid

import httpx

from services.intake.places import default_places
from tests.e2e.channels_support import case_for, query
from tests.images import png
from tests.support import Infra, Stack, wait_until


def url(stack: Stack) -> str:
    return f"{stack.url('intake')}/api/v1/app/complaints"


def test_multipart_complaint_with_photo_and_gps(stack: Stack, infra: Infra) -> None:
    index = default_places().index
    grid = index.grids()[12]
    lon, lat = index.centroid(grid.grid_code)  # type: ignore[misc]
    photo = png()
    key = str(uuid.uuid4())
    data = {"text": "人行道上的井盖松动了，踩上去会翻", "lon": str(lon), "lat": str(lat), "phone": "13800138000"}
    r = httpx.post(
        url(stack),
        data=data,
        files=[("photos", ("a.png", photo, "image/png"))],
        headers={"Idempotency-Key": key},
        timeout=20,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["channel"] == "app" and body["type"] == "complaint"
    assert body["grid_code"] == grid.grid_code
    assert body["location"]["source"] == "gps"
    digest = hashlib.sha256(photo).hexdigest()
    assert body["photos"] == [
        {"sha256": digest, "url": f"/api/v1/blobs/{digest}", "content_type": "image/png", "size": len(photo)}
    ]
    served = httpx.get(f"{stack.url('intake')}/api/v1/blobs/{digest}")
    assert served.status_code == 200 and served.content == photo
    assert served.headers["content-type"] == "image/png"
    assert httpx.get(f"{stack.url('intake')}/api/v1/blobs/{'0' * 64}").status_code == 404
    assert httpx.get(f"{stack.url('intake')}/api/v1/blobs/not-a-hash").status_code == 422

    replay = httpx.post(
        url(stack),
        data=data,
        files=[("photos", ("a.png", photo, "image/png"))],
        headers={"Idempotency-Key": key},
        timeout=20,
    )
    assert replay.status_code == 200 and replay.headers["Idempotent-Replay"] == "true"
    assert replay.json()["id"] == body["id"]
    assert body["tracking_secret"] and replay.json()["tracking_secret"] is None  # shown once
    case = wait_until(lambda: case_for(stack, body["id"]), message="case in dispatch")
    assert case["tracking_code"] == body["tracking_code"]

    status = httpx.get(f"{url(stack)}/{body['tracking_code']}", headers={"X-Tracking-Secret": body["tracking_secret"]})
    assert status.status_code == 200
    assert status.json()["status"] == "received" and status.json()["has_location"] is True
    assert httpx.get(f"{url(stack)}/000000XXXXXX").status_code == 404


def test_snapshot_and_errand(stack: Stack, infra: Infra) -> None:
    snap = httpx.post(
        url(stack),
        data={"type": "snapshot", "client_request_id": str(uuid.uuid4())},
        files=[("photos", ("s.png", png(), "image/png"))],
        timeout=20,
    )
    assert snap.status_code == 201, snap.text
    assert snap.json()["type"] == "snapshot" and snap.json()["text"].startswith("【随手拍】")
    no_photo = httpx.post(url(stack), json={"type": "snapshot", "client_request_id": str(uuid.uuid4())})
    assert no_photo.status_code == 422 and no_photo.json()["fields"][0]["field"] == "photos"

    errand = httpx.post(
        url(stack),
        json={
            "type": "errand",
            "text": "家里老人行动不便，想请社区帮忙代缴水费",
            "client_request_id": str(uuid.uuid4()),
        },
    )
    assert errand.status_code == 201, errand.text
    body = errand.json()
    assert body["kind"] == "求助" and body["errand"] is True and body["type"] == "errand"
    rows = query(infra, "SELECT submission_type, errand FROM channel_submissions WHERE complaint_id = :c", c=body["id"])
    assert rows == [{"submission_type": "errand", "errand": True}]
    wait_until(lambda: case_for(stack, body["id"]), message="errand case in dispatch")


def test_bad_input_is_refused_and_nothing_stored(stack: Stack, infra: Infra) -> None:
    key = str(uuid.uuid4())
    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
    wrong = httpx.post(
        url(stack),
        data={"text": "垃圾桶满了没人清"},
        files=[("photos", ("x.png", gif, "image/png"))],
        headers={"Idempotency-Key": key},
    )
    assert wrong.status_code == 415
    assert wrong.json()["field"] == "photos[0]" and "image/gif" in wrong.json()["message"]

    big = png() + b"\x00" * (5 * 1024 * 1024 + 10)
    too_big = httpx.post(
        url(stack),
        data={"text": "垃圾桶满了没人清"},
        files=[("photos", ("b.png", big, "image/png"))],
        headers={"Idempotency-Key": key},
        timeout=30,
    )
    assert too_big.status_code == 413 and too_big.json()["field"] == "photos[0]"

    seven = [("photos", (f"{i}.png", png(), "image/png")) for i in range(7)]
    too_many = httpx.post(url(stack), data={"text": "垃圾桶满了没人清"}, files=seven, headers={"Idempotency-Key": key})
    assert too_many.status_code in (400, 413) and too_many.json()["field"] == "photos"

    no_key = httpx.post(url(stack), json={"text": "垃圾桶满了没人清"})
    assert no_key.status_code == 422 and no_key.json()["fields"][0]["field"] == "client_request_id"
    half_point = httpx.post(url(stack), json={"text": "x", "lon": 104.1}, headers={"Idempotency-Key": key})
    assert half_point.status_code == 422
    bad_type = httpx.post(url(stack), json={"text": "x", "type": "party"}, headers={"Idempotency-Key": key})
    assert bad_type.status_code == 422 and bad_type.json()["fields"][0]["field"] == "type"
    text_plain = httpx.post(
        url(stack), content=b"hello", headers={"content-type": "text/plain", "Idempotency-Key": key}
    )
    assert text_plain.status_code == 415
    oversized = httpx.post(
        url(stack),
        content=b"x" * (33 * 1024 * 1024),
        headers={"content-type": "application/json", "Idempotency-Key": key},
        timeout=60,
    )
    assert oversized.status_code == 413

    assert query(infra, "SELECT id FROM complaints WHERE channel='app' AND channel_key = :k", k=key) == []
    ok = httpx.post(url(stack), json={"text": "垃圾桶满了没人清"}, headers={"Idempotency-Key": key})
    assert ok.status_code == 201  # created fresh: nothing was stored by the refusals
