"""Message templates (Simplified Chinese, short SMS style, each starting with 【12345】) and masking.

Pure functions: the consumer picks the template for a case event and renders it with the values
below; nothing here touches the database.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.catalog import default_catalog

SHANGHAI = ZoneInfo("Asia/Shanghai")
PREFIX = "【12345】"

EMERGENCY_SERVICES = {"110": "公安", "119": "消防", "120": "急救", "122": "交通事故报警"}
#: who takes a transferred emergency (the first message names it: "已于…转交110指挥中心处置")
EMERGENCY_CENTERS = {
    "110": "110指挥中心",
    "119": "119消防救援指挥中心",
    "120": "120急救指挥中心",
    "122": "122交通事故报警台",
}

#: template name → format string. Values: code, dept, deadline, service, service_name, answer, summary,
#: link, master, reason, matter.
TEMPLATES: dict[str, str] = {
    "receipt": PREFIX + "您的诉求已受理，查询码{code}。我们将按时限办理并回复您，可凭查询码查询进度。",
    "transferred": PREFIX + "您的诉求（查询码{code}）属紧急事项，已转{service}（{service_name}）处理。"
    "如情况紧急，请直接拨打{service}。",
    "transfer_receipt": PREFIX + "您反映的情况属于紧急警情，已于{time}转交{center}处置（查询码{code}）。"
    "如仍有危险，请立即拨打{service}。",
    "answered": PREFIX + "您咨询的问题（查询码{code}）答复如下：{answer}",
    "answered_plain": PREFIX + "您咨询的问题（查询码{code}）已答复，可凭查询码查看答复内容。",
    "dispatched": PREFIX + "您的诉求（查询码{code}）已派至{dept}办理{deadline_part}。",
    "replied": PREFIX + "您的诉求（查询码{code}）已办结：{summary}。请回复 1 满意 2 基本满意 3 不满意，"
    "或打开 {link} 评价。",
    "replied_no_link": PREFIX + "您的诉求（查询码{code}）已办结：{summary}。请回复 1 满意 2 基本满意 3 不满意。",
    "reopened": PREFIX + "您的诉求（查询码{code}）已重新交办（重办），我们将督促承办单位尽快处理并回复您。",
    "merged": PREFIX + "您的诉求已与查询码{master}合并办理，可凭查询码{master}查询进度。",
    "closed": PREFIX + "您的诉求（查询码{code}）已办结归档，感谢您对12345热线的支持。",
    "extension_approved": PREFIX + "您的诉求（查询码{code}）因办理需要已延期，新的办理时限为{deadline}。",
    "unmerged": PREFIX + "您的诉求（查询码{code}）已恢复单独办理，我们将重新派单并按时限回复您。",
    "urge": PREFIX + "【催办】工单{code}{matter}{reason}。请于{deadline}前办结并回复。",
    "supervise": PREFIX + "【督办】工单{code}{matter}{reason}。请立即办理并报告办理情况。",
}
SMS_CHARS = 70
"""One SMS (70 Chinese characters): department notices fit in it, in whole sentences."""

#: case action → citizen template (the event's reporter is looked up in the contact book).
CITIZEN_TEMPLATES: dict[str, str] = {
    "created": "receipt",
    "transferred": "transferred",
    "answered": "answered",
    "dispatched": "dispatched",
    "reassigned": "dispatched",
    "arbitrated": "dispatched",
    "replied": "replied",
    "reopened": "reopened",
    "merged": "merged",
    "unmerged": "unmerged",
    "closed": "closed",
    "extension_approved": "extension_approved",
}

#: case action → department template (webhook to the handling department).
DEPARTMENT_TEMPLATES: dict[str, str] = {"urged": "urge", "supervised": "supervise"}


def department_name(code: str | None) -> str:
    if not code:
        return "承办单位"
    dept = default_catalog().get_department(code)
    return dept.name if dept else code


def matter_name(code: str | None) -> str:
    matter = default_catalog().get_matter(code) if code else None
    return matter.name if matter else "诉求"


def as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def shanghai_time(value: Any) -> str:
    """``2026年11月30日 18:00`` in Asia/Shanghai (a naive value is taken as UTC); "" when unknown."""
    at = as_datetime(value)
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo("UTC"))
    local = at.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")


def sentences(text: str | None) -> list[str]:
    """The sentences of ``text`` on one line, each with its end mark (。！？；)."""
    flat = " ".join((text or "").split())
    return [p.strip() for p in SENTENCE_END.split(flat) if p.strip()]


def whole_sentences(text: str | None, limit: int) -> str:
    """As many leading whole sentences of ``text`` as fit in ``limit`` characters, without the last end mark;
    "" when not even the first fits (the caller then says something shorter of its own)."""
    out = ""
    for sentence in sentences(text):
        if len((out + sentence).rstrip("。.；;，,！!？?")) > limit:
            break
        out += sentence
    return out.rstrip("。.；;，,！!？?")


def shorten(text: str | None, limit: int) -> str:
    """One line, at most ``limit`` characters: whole sentences when at least one fits, else cut with an
    ellipsis."""
    flat = " ".join((text or "").split()).rstrip("。.；;，,")
    if len(flat) <= limit:
        return flat
    whole = whole_sentences(flat, limit)
    return whole or flat[: max(limit - 1, 1)] + "…"


def render(template: str, **values: Any) -> str:
    return TEMPLATES[template].format(**values)


def mask_phone(phone: str) -> str:
    """``13800138000`` → ``138****8000``; short numbers keep only their last two digits."""
    digits = phone.strip()
    if len(digits) >= 7:
        return digits[:3] + "****" + digits[-4:]
    return "*" * max(len(digits) - 2, 0) + digits[-2:]


def mask_recipient(channel: str, recipient: str) -> str:
    """What a listing outside the development sink may show: phone numbers and openids masked,
    department codes (webhook recipients) as they are."""
    if channel == "webhook":
        return recipient
    if channel == "sms":
        return mask_phone(recipient)
    if len(recipient) <= 8:
        return "****"
    return recipient[:4] + "****" + recipient[-4:]
