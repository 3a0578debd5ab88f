"""Open311 GeoReport v2 through the running services: the georeport client library, raw HTTP, JSON and XML."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from defusedxml import ElementTree as SafeET
from georeport import GeoReport

from tests.e2e.wired_intake import wired_intake
from tests.support import Infra, Stack, wait_until

KEY = "linkage-open311-demo-key"


@pytest.fixture(scope="module")
def intake(infra: Infra, stack: Stack) -> Iterator[str]:
    with wired_intake(infra, stack) as url:
        yield url


def post(intake: str, fmt: str = "json", **fields: str | None) -> httpx.Response:
    form: dict[str, str | None] = {"api_key": KEY, "service_code": "SZ002", "lat": "30.661005", "long": "104.097895"}
    form.update(fields)
    form = {k: v for k, v in form.items() if v is not None}
    return httpx.post(f"{intake}/open311/v2/requests.{fmt}", data=form, timeout=10)


def test_client_library_reads_services_and_definitions(intake: str) -> None:
    for fmt in ("json", "xml"):
        client = GeoReport(f"{intake}/open311/v2", output_format=fmt)
        services = client.get_service_list()
        codes = {s["service_code"] for s in services}
        assert "SZ002" in codes and not any(c.startswith("JJ") for c in codes)
        sz = next(s for s in services if s["service_code"] == "SZ002")
        assert sz["group"] == "市政设施" and sz["keywords"]
        definition = client.get_service_definition("SZ002")
        assert definition["service_code"] == "SZ002"
        attrs = definition["attributes"]
        attrs = attrs["attribute"] if isinstance(attrs, dict) else attrs  # xmltodict nests list items
        assert {a["code"] for a in attrs} == {"kind", "photo_url"}


def test_post_then_track_with_the_client_library(intake: str, stack: Stack) -> None:
    text = f"建设路12号门口井盖坏了 {uuid.uuid4().hex[:6]}"
    r = post(intake, description=text, media_url="https://example.org/p.jpg", **{"attribute[kind]": "投诉"})
    assert r.status_code == 201, r.text
    created = r.json()[0]
    rid = created["service_request_id"]
    assert created["token"]
    client = GeoReport(f"{intake}/open311/v2", api_key=KEY)
    one = client.get_service_request(rid)
    assert one["service_request_id"] == rid
    shown = text.replace("12号", "**号")  # public: house numbers (and any personal data) redacted
    assert one["service_code"] == "SZ002" and one["description"] == shown
    assert one["status"] == "open" and one["media_url"] == "https://example.org/p.jpg"
    many = client.get_service_requests(service_request_id=rid)
    assert [m["service_request_id"] for m in many] == [rid]
    listed = client.get_service_requests(service_code="SZ002", status="open")
    assert rid in {m["service_request_id"] for m in listed}
    assert rid not in {
        m["service_request_id"] for m in client.get_service_requests(service_code="SZ002", status="closed")
    }
    xml_one = GeoReport(f"{intake}/open311/v2", output_format="xml").get_service_request(rid)
    assert xml_one["service_request_id"] == rid and xml_one["description"] == shown
    # status comes from the case: wait until dispatch made one and intake reports its state
    wait_until(
        lambda: client.get_service_request(rid)["status_notes"] not in {"状态未知", "待生成工单"}, message="case"
    )
    token = httpx.get(f"{intake}/open311/v2/tokens/{created['token']}.json").json()
    assert token == [{"service_request_id": rid, "token": created["token"]}]


def test_device_id_makes_retries_idempotent(intake: str) -> None:
    device = f"dev-{uuid.uuid4()}"
    first = post(intake, description="路灯不亮 重试", device_id=device).json()[0]
    second = post(intake, description="路灯不亮 重试", device_id=device).json()[0]
    assert first["service_request_id"] == second["service_request_id"]
    third = post(intake, description="路灯不亮 重试").json()[0]
    assert third["service_request_id"] != first["service_request_id"]


def test_xml_post_and_address_string(intake: str) -> None:
    r = post(intake, fmt="xml", lat=None, long=None, address_string="成华区建设路12号", description="井盖 <坏了> & 响")
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("text/xml")
    root = SafeET.fromstring(r.content)
    rid = root.findtext("request/service_request_id")
    assert rid
    got = SafeET.fromstring(httpx.get(f"{intake}/open311/v2/requests/{rid}.xml").content)
    assert got.findtext("request/description") == "井盖 <坏了> & 响"
    assert got.findtext("request/address") == "成华区建设路"  # public: without the house number
    assert got.findtext("request/lat")


def test_discovery(intake: str) -> None:
    d = httpx.get(f"{intake}/open311/v2/discovery.json").json()
    assert d["endpoints"][0]["specification"] == "http://wiki.open311.org/GeoReport_v2"
    x = SafeET.fromstring(httpx.get(f"{intake}/open311/v2/discovery.xml").content)
    assert x.findtext("endpoints/endpoint/type") == "production"


def error_of(r: httpx.Response) -> tuple[int, str]:
    if r.headers["content-type"].startswith("text/xml"):
        root = SafeET.fromstring(r.content)
        assert root.tag == "errors"
        return int(root.findtext("error/code") or 0), root.findtext("error/description") or ""
    body = r.json()
    assert isinstance(body, list) and set(body[0]) == {"code", "description"}
    return body[0]["code"], body[0]["description"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_are_the_spec_list_and_store_nothing(intake: str, fmt: str) -> None:
    marker = uuid.uuid4().hex
    cases = [
        (post(intake, fmt, api_key=None, description=marker), 403, "api_key is required"),
        (post(intake, fmt, api_key="wrong", description=marker), 403, "api_key is not valid"),
        (post(intake, fmt, service_code=None, description=marker), 400, "service_code is required"),
        (post(intake, fmt, service_code="XX999", description=marker), 404, "service_code XX999 not found"),
        (post(intake, fmt, service_code="JJ001", description=marker), 404, "not found"),
        (post(intake, fmt, lat=None, long=None, description=marker), 400, "location is required"),
        (post(intake, fmt, lat="north", description=marker), 400, "lat is not a number"),
        (post(intake, fmt, description=marker + "长" * 4000), 400, "description is longer than 4000"),
        (httpx.get(f"{intake}/open311/v2/requests/NOPE123.{fmt}"), 404, "NOPE123 not found"),
        (httpx.get(f"{intake}/open311/v2/services/XX999.{fmt}"), 404, "XX999 not found"),
        (httpx.get(f"{intake}/open311/v2/tokens/nope.{fmt}"), 404, "token nope not found"),
        (httpx.get(f"{intake}/open311/v2/requests.{fmt}", params={"status": "pending"}), 400, "status"),
        (httpx.get(f"{intake}/open311/v2/requests.{fmt}", params={"start_date": "yesterday"}), 400, "start_date"),
        (
            httpx.get(
                f"{intake}/open311/v2/requests.{fmt}",
                params={"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
            ),
            400,
            "90 days",
        ),
        (
            httpx.post(
                f"{intake}/open311/v2/requests.{fmt}",
                json={"api_key": KEY, "service_code": "SZ002", "address_string": "建设路", "description": marker},
            ),
            400,
            "form-encoded",
        ),
    ]
    for response, status, needle in cases:
        assert response.status_code == status, (needle, response.text)
        code, description = error_of(response)
        assert code == status and needle in description, (needle, description)
    # nothing stored: no request carries the marker
    listed = httpx.get(f"{intake}/open311/v2/requests.json", params={"service_code": "SZ002"}).json()
    assert not any(marker in r["description"] for r in listed)


def test_unknown_format_is_404(intake: str) -> None:
    r = httpx.get(f"{intake}/open311/v2/services.yaml")
    assert r.status_code == 404
    assert r.json()[0]["code"] == 404
