"""Chinese display names for the codes the projections store (reference data only, no personal data)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from shared.catalog import CATEGORY_NAMES, default_catalog

CHANNEL_NAMES: dict[str, str] = {
    "hotline": "12345热线",
    "wechat": "微信公众号",
    "app": "移动应用",
    "grid": "网格上报",
    "open311": "Open311",
}
ACTION_NAMES: dict[str, str] = {
    "created": "新受理",
    "transferred": "转紧急服务",
    "answered": "直接答复",
    "triaged": "待派单",
    "dispatched": "派单",
    "signed": "签收",
    "returned": "退单",
    "return_approved": "退单通过",
    "return_denied": "退单驳回",
    "reassigned": "改派",
    "arbitrated": "职责裁定",
    "progressed": "进展",
    "extension_requested": "申请延期",
    "extension_approved": "延期批准",
    "extension_denied": "延期驳回",
    "suspended": "挂起",
    "resumed": "恢复办理",
    "replied": "办结",
    "surveyed": "回访",
    "reopened": "重办",
    "verified": "核查",
    "merged": "并单",
    "whistled": "吹哨",
    "reported": "报到",
    "closed": "结案",
    "warned": "预警",
    "urged": "催办",
    "supervised": "督办",
    "publicized": "通报",
    "handoff_sent": "警情推送",
    "handoff_acknowledged": "接警确认",
    "handoff_escalated": "转交未确认升级",
    "solved_on_spot": "现场解决",
}
# The public grid reference data shipped with the demo district (codes and names only).
_GRID_FILE = Path(__file__).resolve().parents[2] / "intake" / "places" / "data" / "demo_district.geojson"


def category_name(code: str | None) -> str:
    if not code or code == "-":
        return "未分类"
    return CATEGORY_NAMES.get(code, code)


@functools.cache
def street_names() -> dict[str, str]:
    """Street code -> name, from the catalog's departments of kind ``street``."""
    return {d.code: d.name for d in default_catalog().departments if d.kind == "street"}


def street_name(code: str | None) -> str:
    if not code or code == "-":
        return "未定位"
    return street_names().get(code, code)


def department_name(code: str | None) -> str:
    if not code:
        return "未指定"
    dept = default_catalog().get_department(code)
    return dept.name if dept else code


@functools.cache
def grid_names() -> dict[str, str]:
    """Grid code -> name (e.g. ``S01C01G02`` -> ``建设路社区第2网格``); empty if the file is absent."""
    try:
        data = json.loads(_GRID_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, str] = {}
    for feature in data.get("features", []):
        props = feature.get("properties") or {}
        if props.get("level") == "grid" and props.get("code"):
            out[str(props["code"])] = str(props.get("name") or props["code"])
    return out


def grid_name(code: str | None) -> str:
    if not code or code == "-":
        return "未定位"
    return grid_names().get(code, code)


def mask_tracking_code(code: str) -> str:
    """Keep the date part of a tracking code only (``261124K7Q2PX`` -> ``261124******``)."""
    return code[:6] + "*" * max(0, len(code) - 6)
