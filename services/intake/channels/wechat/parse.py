"""Hardened parsing of WeChat callback XML (defusedxml: no DTD, no entities, no external references)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from xml.etree.ElementTree import ParseError

import defusedxml
from defusedxml.ElementTree import fromstring

MAX_XML_BYTES = 64 * 1024
_MAX_FIELD_CHARS = 8000


class XmlError(ValueError):
    """The body is not a WeChat message we accept; the message says why (400)."""


def parse_xml(body: bytes) -> dict[str, str]:
    """A flat ``<xml><Field>value</Field>…</xml>`` document as a dict of strings."""
    if len(body) > MAX_XML_BYTES:
        raise XmlError(f"body exceeds {MAX_XML_BYTES} bytes")
    if not body.strip():
        raise XmlError("empty body")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise XmlError(f"forbidden XML construct: {exc.__class__.__name__}") from exc
    except ParseError as exc:
        raise XmlError(f"malformed XML: {exc}") from exc
    if root.tag != "xml":
        raise XmlError(f"root element must be <xml>, got <{root.tag}>")
    fields: dict[str, str] = {}
    for child in root:
        if len(child):
            continue  # nested structures (e.g. ScanCodeInfo) are not used here
        text = (child.text or "").strip()
        if len(text) > _MAX_FIELD_CHARS:
            raise XmlError(f"{child.tag} is too long")
        fields[child.tag] = text
    return fields


@dataclass(frozen=True)
class InboundMessage:
    to_user: str
    from_user: str
    create_time: int
    msg_type: str
    msg_id: str | None = None
    content: str | None = None
    recognition: str | None = None
    pic_url: str | None = None
    media_id: str | None = None
    lat: float | None = None  # Location_X, GCJ-02
    lon: float | None = None  # Location_Y, GCJ-02
    label: str | None = None
    event: str | None = None
    raw: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> str:
        """Idempotency key: ``MsgId``; events have none, so ``FromUserName:CreateTime:Event``."""
        if self.msg_id:
            return self.msg_id
        return f"{self.from_user}:{self.create_time}:{self.event or self.msg_type}"[:128]


def _required(fields: dict[str, str], name: str) -> str:
    value = fields.get(name)
    if not value:
        raise XmlError(f"missing {name}")
    if len(value) > 128:
        raise XmlError(f"{name} is too long")
    return value


def _coordinate(fields: dict[str, str], name: str, bound: float) -> float:
    raw = _required(fields, name)
    try:
        value = float(raw)
    except ValueError as exc:
        raise XmlError(f"{name} is not a number") from exc
    if not math.isfinite(value) or abs(value) > bound:
        raise XmlError(f"{name} is out of range")
    return value


def parse_message(fields: dict[str, str]) -> InboundMessage:
    """Validate the common fields and the ones each message type needs."""
    to_user = _required(fields, "ToUserName")
    from_user = _required(fields, "FromUserName")
    try:
        create_time = int(_required(fields, "CreateTime"))
    except ValueError as exc:
        raise XmlError("CreateTime is not an integer") from exc
    msg_type = _required(fields, "MsgType").lower()
    base = InboundMessage(to_user=to_user, from_user=from_user, create_time=create_time, msg_type=msg_type, raw=fields)
    msg_id = fields.get("MsgId") or None
    if msg_id is not None and (len(msg_id) > 64 or not msg_id.isdigit()):
        raise XmlError("MsgId must be digits")
    if msg_type == "event":
        return replace(base, event=_required(fields, "Event").lower())
    if msg_id is None:
        raise XmlError("missing MsgId")
    base = replace(base, msg_id=msg_id)
    if msg_type == "text":
        return replace(base, content=fields.get("Content", ""))
    if msg_type == "voice":
        return replace(base, media_id=fields.get("MediaId"), recognition=fields.get("Recognition") or None)
    if msg_type == "image":
        pic_url = fields.get("PicUrl") or None
        media_id = fields.get("MediaId") or None
        if not pic_url and not media_id:
            raise XmlError("image needs PicUrl or MediaId")
        return replace(base, pic_url=pic_url, media_id=media_id)
    if msg_type == "location":
        return replace(
            base,
            lat=_coordinate(fields, "Location_X", 90),
            lon=_coordinate(fields, "Location_Y", 180),
            label=(fields.get("Label") or None),
        )
    return base
