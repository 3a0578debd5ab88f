"""Words people read: Chinese names for channels, kinds and emergency services, and the reasons the system
itself writes into case histories (routing, SLA timers, surveys) put into Chinese.

Older entries carry English reasons (``matter SZ016 → S01``, ``low confidence 0.11``, ``citizen unsatisfied``);
history is append-only, so they are translated when shown, never rewritten. Reasons a person typed are left as
they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from shared.catalog import default_catalog

CHANNEL_NAMES: dict[str, str] = {
    "hotline": "12345热线",
    "wechat": "微信公众号",
    "app": "手机客户端",
    "grid": "网格员上报",
    "open311": "开放接口",
    "web": "网站",
    "sms": "短信",
}
EMERGENCY_NAMES: dict[str, str] = {
    "110": "110（公安）",
    "119": "119（消防）",
    "120": "120（急救）",
    "122": "122（交警）",
}

_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
_MATTER_CODE = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2}\d{3})(?![0-9])")
_CODE_IN_PARENS = re.compile(r"\s*[（(][A-Z]{2}\d{3}[)）]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def department_name(code: object) -> str:
    """A department/street name from the catalog (the code itself when unknown, ``—`` when empty)."""
    if not code:
        return "—"
    dept = default_catalog().get_department(str(code))
    return dept.name if dept else str(code)


def matter_name(code: object) -> str:
    if not code:
        return "—"
    matter = default_catalog().get_matter(str(code))
    return matter.name if matter else str(code)


def channel_name(code: object) -> str:
    return CHANNEL_NAMES.get(str(code or ""), str(code or "—"))


def _matter_route(m: re.Match[str]) -> str:
    return f"按事项「{matter_name(m.group(1))}」派至{department_name(m.group(2))}"


def _low_confidence(m: re.Match[str]) -> str:
    return f"分类把握不足（置信度{round(float(m.group(1)) * 100)}%），请人工确认"


def _no_handler(m: re.Match[str]) -> str:
    why = m.group(1)
    if "street" in why or "属地" in why:
        return "未能确定承办单位：该事项由属地街道承办，但地址未定位到街道"
    return "未能确定承办单位"


_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"^matter ([A-Z]{2}\d{3}) → ([A-Z0-9]{2,10})$"), _matter_route),
    (re.compile(r"^matter ([A-Z]{2}\d{3}) is 紧急警情$"), lambda m: f"事项「{matter_name(m.group(1))}」属紧急警情"),
    (re.compile(r"^low confidence ([0-9.]+)$"), _low_confidence),
    (re.compile(r"^no handler: (.*)$", re.S), _no_handler),
    (re.compile(r"^no matter suggested$"), "未能识别诉求事项，请人工派单"),
    (re.compile(r"^answered from the knowledge base.*$"), "知识库直接答复"),
    (re.compile(r"^citizen unsatisfied$"), "市民对办理结果不满意，重新办理"),
    (re.compile(r"^unsatisfied again after reopening.*$"), "重办后市民仍不满意"),
    (re.compile(r"^master case ([0-9A-Z]+) closed$"), lambda m: f"主工单{m.group(1)}已结案"),
    (re.compile(r"^超时未签收.*$"), "超过签收时限未签收"),
    (re.compile(r"^预警催办.*$"), "办理时限已用去80%，预警催办"),
    (re.compile(r"^超期督办.*$"), "已超过办理时限，超期督办"),
    (re.compile(r"^超期通报.*$"), "超过办理时限5个工作日仍未办结，予以通报"),
    (re.compile(r"^吹哨报到超时.*$"), "吹哨后30分钟内未报到"),
)


def known_reason(reason: str | None) -> str | None:
    """The Chinese of a reason the system is known to write (None for anything else)."""
    text = (reason or "").strip()
    for pattern, out in _PATTERNS:
        m = pattern.match(text)
        if m:
            return out if isinstance(out, str) else out(m)
    return None


def system_reason(reason: str | None) -> str | None:
    """A reason the system wrote, in Chinese: known phrasings are translated, English left in a mixed reason is
    dropped (``超时未签收 (sign-for limit passed)`` → ``超过签收时限未签收``); None when nothing Chinese is left."""
    text = (reason or "").strip()
    if not text:
        return None
    known = known_reason(text)
    if known is not None:
        return known
    text = _CODE_IN_PARENS.sub("", text)  # 「井盖缺失」（SZ016） → 「井盖缺失」
    text = _MATTER_CODE.sub(lambda m: f"「{matter_name(m.group(1))}」", text)
    if not _LATIN_WORD.search(text):
        return text
    if not _CJK.search(text):
        return None
    kept = re.sub(r"\s*[(（][^)）]*[A-Za-z]{3,}[^)）]*[)）]", "", text)  # "(english)" asides
    kept = re.sub(r"\s*[:：]\s*[^:：\u4e00-\u9fff]*[A-Za-z]{3,}[^\u4e00-\u9fff]*$", "", kept)  # ": english" tails
    return kept.strip() if _CJK.search(kept) and not _LATIN_WORD.search(kept) else None


def has_english(text: str) -> bool:
    """True when ``text`` contains a Latin word of three or more letters (what the page scans look for)."""
    return bool(_LATIN_WORD.search(text))
