"""GeoReport v2 XML documents, built with ElementTree (text is always escaped; no raw string pasting).

Characters XML 1.0 cannot carry at all (most C0 controls) are dropped rather than escaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree as ET

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Element name of one item inside each list-valued field (GeoReport v2 wire format).
LIST_ITEMS = {
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}


def clean(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return clean(str(value))


def _fill(parent: ET.Element, data: Mapping[str, Any]) -> None:
    for key, value in data.items():
        child = ET.SubElement(parent, key)
        if isinstance(value, Mapping):
            _fill(child, value)
        elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
            item_name = LIST_ITEMS.get(key, "item")
            for item in value:
                node = ET.SubElement(child, item_name)
                if isinstance(item, Mapping):
                    _fill(node, item)
                else:
                    node.text = _scalar(item)
        else:
            child.text = _scalar(value)


def document(root: str, data: Mapping[str, Any]) -> bytes:
    """One object as ``<root>…</root>`` (discovery, service_definition)."""
    element = ET.Element(root)
    _fill(element, data)
    return _serialise(element)


def listing(root: str, item: str, items: Sequence[Mapping[str, Any]]) -> bytes:
    """A list as ``<root><item>…</item>…</root>`` (services, service_requests)."""
    element = ET.Element(root)
    for entry in items:
        _fill(ET.SubElement(element, item), entry)
    return _serialise(element)


def errors(items: Sequence[Mapping[str, Any]]) -> bytes:
    """The spec's error list: ``<errors><error><code>400</code><description>…</description></error></errors>``."""
    return listing("errors", "error", items)


def _serialise(element: ET.Element) -> bytes:
    body: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body
