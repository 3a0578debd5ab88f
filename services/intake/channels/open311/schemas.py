"""GeoReport v2 request parsing: form fields in, a checked :class:`ServiceRequestIn` out, or an Open311 error."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.events.complaints import Kind

MAX_DESCRIPTION = 4000
MAX_FIELD = 300
_URL = re.compile(r"^https?://[^\s]{1,2000}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}$")
_PHONE = re.compile(r"^\+?[0-9][0-9\- ]{2,19}$")
KINDS: tuple[Kind, ...] = ("咨询", "求助", "投诉", "举报", "建议", "表扬")


class Open311Error(Exception):
    """One entry of the spec's error list, with its HTTP status (400, 403, 404, or 429 with Retry-After)."""

    def __init__(self, code: int, description: str, retry_after_s: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class ServiceRequestIn:
    service_code: str
    description: str | None
    lat: float | None
    lon: float | None
    address_string: str | None
    address_id: str | None
    media_url: str | None
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    device_id: str | None
    account_id: str | None
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> Kind | None:
        value = self.attributes.get("kind")
        return value if value in KINDS else None

    @property
    def name(self) -> str | None:
        parts = [p for p in (self.last_name, self.first_name) if p]
        return "".join(parts) or None


def _text(form: Mapping[str, str], name: str, limit: int = MAX_FIELD) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        raise Open311Error(400, f"{name} is longer than {limit} characters")
    return value


def _float(form: Mapping[str, str], name: str, low: float, high: float) -> float | None:
    raw = _text(form, name, 40)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} is not a number: {raw!r}") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise Open311Error(400, f"{name} must be between {low} and {high}")
    return value


def parse_request(form: Mapping[str, str]) -> ServiceRequestIn:
    """Check a POST requests form (everything but api_key/jurisdiction_id); raises :class:`Open311Error`."""
    service_code = _text(form, "service_code", 16)
    if service_code is None:
        raise Open311Error(400, "service_code is required")
    description = _text(form, "description", MAX_DESCRIPTION)
    lat = _float(form, "lat", -90, 90)
    lon = _float(form, "long", -180, 180)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long must be given together")
    address_string = _text(form, "address_string")
    address_id = _text(form, "address_id", 64)
    if lat is None and address_string is None and address_id is None:
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    media_url = _text(form, "media_url", 2000)
    if media_url is not None and not _URL.match(media_url):
        raise Open311Error(400, "media_url must be an http(s) URL")
    email = _text(form, "email", 254)
    if email is not None and not _EMAIL.match(email):
        raise Open311Error(400, "email is not an e-mail address")
    phone = _text(form, "phone", 32)
    if phone is not None and not _PHONE.match(phone):
        raise Open311Error(400, "phone is not a telephone number")
    attributes: dict[str, str] = {}
    for key, value in form.items():
        if key.startswith("attribute[") and key.endswith("]"):
            code = key[len("attribute[") : -1]
            if not code or len(code) > 32:
                raise Open311Error(400, f"bad attribute name {key!r}")
            attributes[code] = value.strip()[:MAX_FIELD]
    if "kind" in attributes and attributes["kind"] and attributes["kind"] not in KINDS:
        raise Open311Error(400, f"attribute[kind] must be one of {', '.join(KINDS)}")
    photo = attributes.get("photo_url")
    if photo and not _URL.match(photo):
        raise Open311Error(400, "attribute[photo_url] must be an http(s) URL")
    return ServiceRequestIn(
        service_code=service_code,
        description=description,
        lat=lat,
        lon=lon,
        address_string=address_string,
        address_id=address_id,
        media_url=media_url,
        email=email,
        phone=phone,
        first_name=_text(form, "first_name", 50),
        last_name=_text(form, "last_name", 50),
        device_id=_text(form, "device_id", 64),
        account_id=_text(form, "account_id", 64),
        attributes=attributes,
    )


def parse_datetime(name: str, raw: str) -> datetime:
    """A w3c datetime (``2010-01-01T00:00:00Z``); naive values are UTC."""
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} is not a w3c datetime (e.g. 2010-01-01T00:00:00Z): {raw!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
