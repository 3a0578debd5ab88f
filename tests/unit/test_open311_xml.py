"""Open311 XML: safe escaping, the spec's shapes, and request-form validation."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree as SafeET

from services.intake.channels.open311 import service, xml
from services.intake.channels.open311.schemas import Open311Error, parse_request


def test_listing_escapes_markup_and_drops_invalid_characters() -> None:
    body = xml.listing(
        "service_requests", "request", [{"description": "<script>&\"'</script>\x00\x07井盖", "lat": 30.1}]
    )
    root = SafeET.fromstring(body)
    assert root.tag == "service_requests"
    req = root.find("request")
    assert req is not None
    assert req.findtext("description") == "<script>&\"'</script>井盖"
    assert req.findtext("lat") == "30.1"
    assert b"<script>" not in body


def test_error_list_shape() -> None:
    root = SafeET.fromstring(xml.errors([{"code": 403, "description": "api_key is required"}]))
    assert root.tag == "errors"
    assert root.find("error/code").text == "403"
    assert root.find("error/description").text == "api_key is required"


def test_service_definition_values_and_booleans() -> None:
    root = SafeET.fromstring(xml.document("service_definition", service.service_definition("SZ002")))
    assert root.findtext("service_code") == "SZ002"
    attrs = root.findall("attributes/attribute")
    kind = next(a for a in attrs if a.findtext("code") == "kind")
    assert kind.findtext("datatype") == "singlevaluelist"
    assert kind.findtext("variable") == "true"
    assert [v.findtext("key") for v in kind.findall("values/value")][:2] == ["咨询", "求助"]


def test_discovery_formats() -> None:
    root = SafeET.fromstring(xml.document("discovery", service.discovery(service.Settings(), "http://x")))
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]
    assert root.findtext("endpoints/endpoint/url") == "http://x/open311/v2"


def test_services_exclude_emergencies_and_carry_group_and_keywords() -> None:
    services = service.list_services()
    codes = {s["service_code"] for s in services}
    assert "SZ002" in codes and not any(c.startswith("JJ") for c in codes)
    sz = next(s for s in services if s["service_code"] == "SZ002")
    assert sz["group"] == "市政设施" and "," in sz["keywords"]
    with pytest.raises(Open311Error) as err:
        service.find_service("JJ001")
    assert err.value.code == 404


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({}, "service_code is required"),
        ({"service_code": "SZ002"}, "a location is required"),
        ({"service_code": "SZ002", "lat": "30.6"}, "lat and long must be given together"),
        ({"service_code": "SZ002", "lat": "abc", "long": "104"}, "lat is not a number"),
        ({"service_code": "SZ002", "lat": "95", "long": "104"}, "lat must be between"),
        ({"service_code": "SZ002", "address_string": "建设路", "description": "长" * 4001}, "description is longer"),
        ({"service_code": "SZ002", "address_string": "建设路", "media_url": "javascript:x"}, "media_url"),
        ({"service_code": "SZ002", "address_string": "建设路", "email": "nope"}, "email"),
        ({"service_code": "SZ002", "address_string": "建设路", "attribute[kind]": "吐槽"}, "attribute[kind]"),
    ],
)
def test_bad_forms_name_the_problem(form: dict[str, str], message: str) -> None:
    with pytest.raises(Open311Error) as err:
        parse_request(form)
    assert err.value.code == 400
    assert message in err.value.description


def test_good_form_and_idempotency_key() -> None:
    form = {
        "service_code": "SZ002",
        "lat": "30.66",
        "long": "104.09",
        "description": "井盖坏了",
        "device_id": "dev-1",
        "attribute[kind]": "投诉",
        "first_name": "小明",
        "last_name": "王",
    }
    req = parse_request(form)
    assert req.kind == "投诉" and req.name == "王小明"
    assert service.channel_key(req) == service.channel_key(parse_request(dict(form)))
    other = parse_request({**form, "description": "井盖又坏了"})
    assert service.channel_key(other) != service.channel_key(req)
    anonymous = parse_request({k: v for k, v in form.items() if k != "device_id"})
    assert service.channel_key(anonymous) != service.channel_key(anonymous)
    assert len(service.channel_key(req)) <= 128
