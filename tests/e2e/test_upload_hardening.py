"""Photos and multipart bodies on the app and grid channels, through the running stack: a fake or truncated
image is a 422 naming the photo, a multipart body without its closing boundary or with garbage is a 400 —
never a silently dropped photo or a 500 — and nothing is stored either way."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest

from services.intake.seeds.channels import demo_workers
from tests.e2e.channels_support import DEMO, query
from tests.images import FAKE_JPEG, jpeg
from tests.support import Infra, Stack

BOUNDARY = "linkage-test-boundary"


def _app(stack: Stack) -> str:
    return f"{stack.url('intake')}/api/v1/app/complaints"


def _grid(stack: Stack) -> str:
    return f"{stack.url('intake')}/api/v1/grid/reports"


def _target(stack: Stack, channel: str, key: str, text: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """(url, headers, form fields) of one channel's filing endpoint."""
    if channel == "app":
        return _app(stack), {}, {"text": text, "client_request_id": key}
    headers = {"X-Worker-Token": demo_workers(DEMO, 1)[0]["token"]}
    return _grid(stack), headers, {"matter_code": "CG001", "text": text, "client_request_id": key}


def _multipart(fields: dict[str, str], photo: bytes, *, close: bool = True) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + photo
        + b"\r\n"
    )
    if close:
        parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


def _nothing_stored(stack: Stack, infra: Infra, key: str, *photos: bytes) -> None:
    assert query(infra, "SELECT id FROM complaints WHERE channel_key LIKE :k", k=f"%{key}") == []
    for photo in photos:
        digest = hashlib.sha256(photo).hexdigest()
        assert httpx.get(f"{stack.url('intake')}/api/v1/blobs/{digest}").status_code == 404


@pytest.mark.parametrize("channel", ["app", "grid"])
def test_fake_or_truncated_image_is_422_naming_the_photo(stack: Stack, infra: Infra, channel: str) -> None:
    key = str(uuid.uuid4())
    target, headers, fields = _target(stack, channel, key, "小区门口垃圾堆积无人清运")
    truncated = jpeg(64, 48)[:-40]
    good = jpeg(8, 6, color=tuple(uuid.uuid4().bytes[:3]))  # type: ignore[arg-type]  # other tests store png()
    for i, bad in enumerate((FAKE_JPEG, truncated)):
        files = [("photos", ("ok.jpg", good, "image/jpeg")), ("photos", ("bad.jpg", bad, "image/jpeg"))]
        r = httpx.post(target, data=fields, files=files, headers=headers, timeout=20)
        assert r.status_code == 422, (i, r.text)
        body = r.json()
        assert body["error"] == "invalid_photo" and body["fields"][0]["field"] == "photos[1]"
        assert "photos[1]" in body["message"] and "解码" in body["message"]
    _nothing_stored(stack, infra, key, FAKE_JPEG, truncated, good)


@pytest.mark.parametrize("channel", ["app", "grid"])
def test_malformed_multipart_is_400(stack: Stack, infra: Infra, channel: str) -> None:
    key = str(uuid.uuid4())
    target, headers, fields = _target(stack, channel, key, "路灯不亮很久了")
    photo = jpeg(16, 16, color=tuple(uuid.uuid4().bytes[:3]))  # type: ignore[arg-type]  # new bytes per run
    content_type = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    bodies = {
        "no closing boundary": _multipart(fields, photo, close=False),
        "cut inside the photo": _multipart(fields, photo)[:-60],
        "garbage": b"\x00\x01 this is not multipart at all",
        "bad part header": f"--{BOUNDARY}\r\ngarbage\r\n\r\nvalue\r\n--{BOUNDARY}--\r\n".encode(),
    }
    for what, raw in bodies.items():
        r = httpx.post(target, content=raw, headers={**headers, **content_type}, timeout=20)
        assert r.status_code == 400, (what, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json") and r.json()["field"] == "body", what
    no_boundary = httpx.post(
        target, content=_multipart(fields, photo), headers={**headers, "content-type": "multipart/form-data"}
    )
    assert no_boundary.status_code == 400 and no_boundary.json()["field"] == "body"
    _nothing_stored(stack, infra, key, photo)

    # the same body, complete, is accepted with its photo
    r = httpx.post(target, content=_multipart(fields, photo), headers={**headers, **content_type}, timeout=20)
    assert r.status_code == 201, r.text
    assert [p["sha256"] for p in r.json()["photos"]] == [hashlib.sha256(photo).hexdigest()]


def test_gps_in_exif_is_not_stored(stack: Stack) -> None:
    photo = jpeg(gps=True)
    r = httpx.post(
        _app(stack),
        data={"text": "楼道里堆满杂物，存在消防隐患"},
        files=[("photos", ("gps.jpg", photo, "image/jpeg"))],
        headers={"Idempotency-Key": str(uuid.uuid4())},
        timeout=20,
    )
    assert r.status_code == 201, r.text
    (stored,) = r.json()["photos"]
    assert stored["sha256"] != hashlib.sha256(photo).hexdigest()
    served = httpx.get(f"{stack.url('intake')}{stored['url']}")
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert b"Exif" not in served.content and b"PhoneMaker" not in served.content
