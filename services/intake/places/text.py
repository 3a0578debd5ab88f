"""Text normalisation for spoken and typed Chinese addresses.

``normalize_address("成华区建设路十二号附近")`` -> ``"成华区建设路12号附近"``: NFKC (full-width digits and
letters become ASCII), the traditional forms of common address characters simplified (``號`` -> ``号``,
``棟`` -> ``栋``), whitespace and punctuation removed, Chinese numerals before 号/栋/幢/座/单元/网格 turned
into digits (``十二号`` -> ``12号``, ``一百零八号`` -> ``108号``, ``幺二三号`` -> ``123号``, ``三栋`` -> ``3栋``),
a building written ``5#`` or ``5#楼`` read as ``5栋``, and a digit road section turned into the Chinese spelling
used in road names (``府青路2段`` -> ``府青路二段``).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["ADMIN_WORDS", "chinese_to_int", "normalize_address", "strip_admin"]

_DIGITS = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_SECTION_CN = "零一二三四五六七八九"
_CN_NUM = "零〇○一幺二两三四五六七八九十百千"

#: Words naming the city or district; removed before fuzzy matching (never needed to find a road).
ADMIN_WORDS = ("中国", "四川省", "四川", "成都市", "成华区")

# traditional forms that turn up in typed addresses (Taiwanese/HK input methods, old signs)
_TRADITIONAL = str.maketrans(
    {
        "號": "号",
        "棟": "栋",
        "樓": "楼",
        "單": "单",
        "區": "区",
        "門": "门",
        "園": "园",
        "場": "场",
        "橋": "桥",
        "東": "东",
        "灣": "湾",
        "學": "学",
        "醫": "医",
        "廣": "广",
        "華": "华",
        "設": "设",
        "對": "对",
        "邊": "边",
        "裡": "里",
        "莊": "庄",
        "蘭": "兰",
        "龍": "龙",
        "際": "际",
        "萬": "万",
        "雙": "双",
        "車": "车",
        "鐵": "铁",
        "側": "侧",
        "漢": "汉",
        "環": "环",
        "們": "们",
        "這": "这",
        "裏": "里",
        "滬": "沪",
    }
)
_BUILDING_HASH = re.compile(r"(\d{1,3})#(?:楼)?")
_PUNCT = re.compile(r"[\s\u3000,.;:!?'\"()\[\]{}<>，。、；：！？“”‘’（）【】《》〈〉…—～~·]+")
_CN_BEFORE_NUMBER_WORD = re.compile(rf"([{_CN_NUM}]+)(?=(?:号|栋|幢|座|单元|弄|网格))")
_DIGIT_SECTION = re.compile(r"(?<=[路街道东西南北])(\d)(?=段)")


def chinese_to_int(text: str) -> int | None:
    """Parse a Chinese numeral (``十二``, ``一百零八``, ``两千``) or a digit-by-digit reading (``幺二三``)."""
    if not text or any(ch not in _DIGITS and ch not in _UNITS for ch in text):
        return None
    if not any(ch in _UNITS for ch in text):
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total, current = 0, 0
    for ch in text:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        else:
            total += (current or 1) * _UNITS[ch]  # a bare 十 means 10
            current = 0
    return total + current


def _replace_numeral(match: re.Match[str]) -> str:
    value = chinese_to_int(match.group(1))
    return match.group(1) if value is None else str(value)


def normalize_address(text: str) -> str:
    """Canonical form used for matching (see the module docstring)."""
    out = unicodedata.normalize("NFKC", text).translate(_TRADITIONAL)
    out = _BUILDING_HASH.sub(r"\1栋", out)
    out = _PUNCT.sub("", out)
    out = _CN_BEFORE_NUMBER_WORD.sub(_replace_numeral, out)
    return _DIGIT_SECTION.sub(lambda m: _SECTION_CN[int(m.group(1))], out)


def strip_admin(text: str) -> str:
    """Remove country/province/city/district words (for fuzzy matching only)."""
    for word in ADMIN_WORDS:
        text = text.replace(word, "")
    return text
