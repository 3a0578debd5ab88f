"""Redaction for everything public (Open311 GET, public tracking): personal data out of free text.

``redact_text`` masks, in this order:

- e-mail addresses: first character of the local part kept (``w***@163.com``);
- digit runs (ASCII or full-width digits; single ``-``/space separators allowed inside a run), by their digits:
  mobile numbers (``1[3-9]`` + 9 digits, optional ``86`` prefix) → ``138****8000``; ID-card numbers (18 digits,
  or 17 + ``X``; and old 15-digit ones) → region code (first 6) and the last character kept,
  ``510108***********4``; bank cards (16–19 digits) → first 4 and last 4 kept; landlines (starting with ``0``,
  10–12 digits) → area code and last 2 kept, ``028-******34``; any other run of 7 or more digits without
  separators (QQ numbers, local numbers without area code, order numbers) → all but the last 2 masked.
  No 7 consecutive original digits of a masked run survive, so no full number does;
- runs of 7 or more Chinese digits (``一三七一二三四…``, ``幺``) → every character masked;
- licence plates (``川A12345`` → ``川A***45``, new-energy ``川AD12345`` → ``川A****45``);
- exact house numbers (``12号3栋2单元501``, ``A座``, ``12-3-501``) → each number ``**`` (``**号**栋**单元**``);
  a lone ``12号`` only after a road/community word (``建设路12号``), because ``12号`` alone is usually a date;
- self-introduced names (``我叫王小明``, ``我是张三``, ``本人李四``, ``姓名：…``, ``联系人…``, ``市民王某某``)
  and the citizen named in a reply (``已联系王小明``, ``答复市民王小明``) → surname kept, given name masked
  (``王**``). ``我是``/``我叫`` only count when a common surname follows, so
  ``我是业主`` stays; a surname-only mention (``姓王``, ``王先生``) is left as it is;
- WeChat ids after ``微信``/``微信号`` → first 2 characters kept.

This is best effort on free text: third parties' names (``邻居李四``) and numbers spelled in words mixed with
other characters are not found. Public surfaces may instead show no text at all
(``LINKAGE_PUBLIC_DESCRIPTION_POLICY=none``, see :func:`public_description`).

``coarsen_address`` keeps the road / community part of an address and drops everything from the first house
number on; ``coarsen_point`` rounds coordinates to 3 decimals (a cell of about 110 m × 100 m in Chengdu).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

DescriptionPolicy = Literal["redacted", "none"]
MASK = "*"

_D = "[0-9０-９]"
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_DIGIT_RUN = re.compile(rf"(?<![0-9０-９]){_D}(?:[- ]?{_D})*(?P<x>[Xx](?![A-Za-z]))?")
_SEPARATORS = re.compile(r"[- ]")
_CHINESE_DIGITS = re.compile("[0-9０-９〇零一二三四五六七八九幺两]{7,}")
_CHINESE_DIGIT = re.compile("[〇零一二三四五六七八九幺两]")

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(rf"(?P<head>[{_PROVINCES}][A-Za-z])(?P<sep>[·・.\s-]?)(?P<tail>[A-Za-z0-9]{{5,6}})(?![A-Za-z0-9])")

_AR = "[0-9０-９]+"
_CN = "[一二三四五六七八九十百零〇两]+"
_NOT_HOUSE = "(?!线|码|牌|召|称|位|键|机|车|电|盘|道|梯|下|上|顶)"
_ADDRESS_WORD = "[路街巷道段村组院苑园城厦寓里弄区社]"
# where a house-number chain may start: 建设路12号, 12号楼, 3栋, 二单元, 501室, A座, 5楼502 (a lone 12号
# elsewhere is usually a date, 两室 a flat's layout)
_HOUSE_START = (
    rf"(?:(?<={_ADDRESS_WORD})(?:{_AR}|{_CN})号[院楼]?"
    rf"|{_AR}(?:号院|号楼|栋|幢|座|单元|室|户|弄)"
    rf"|{_CN}(?:号院|号楼|栋|幢|单元)"
    rf"|[A-Za-z][0-9]*(?:栋|幢|座|单元)"
    rf"|{_AR}[楼层](?=[-—之]?[0-9０-９]))"
)
_HOUSE_PART = (
    rf"(?:{_AR}(?:号院|号楼|号|栋|幢|座|单元|室|户|弄|楼|层)?"
    rf"|{_CN}(?:号院|号楼|号|栋|幢|单元|楼|层)"
    rf"|[A-Za-z][0-9]*(?:栋|幢|座|单元))"
)
_HOUSE_CHAIN = re.compile(rf"{_HOUSE_START}{_NOT_HOUSE}(?:[-—之附]?{_HOUSE_PART}{_NOT_HOUSE})*")
_NUMBER_IN_CHAIN = re.compile(rf"{_AR}|{_CN}|[A-Za-z][0-9]*")
_DASHED_HOUSE = re.compile(r"(?<![0-9０-９-])[0-9０-９]{1,4}(?:-[0-9０-９]{1,4}){2,3}(?![0-9０-９-])")
_DATE = re.compile(r"(?:19|20)[0-9]{2}-[0-9]{1,2}-[0-9]{1,2}")
# where an address's exact part starts: the first house number, a dashed 12-3-501, 附3号, or any other number
# of 2+ digits that is not a distance (往东50米) or a metro line (10号线)
_ADDRESS_CUT = re.compile(
    rf"(?:{_AR}|{_CN}|[A-Za-z][0-9]*)(?:号院|号楼|号|栋|幢|座|单元|室|户|弄|楼|层){_NOT_HOUSE}"
    rf"|{_AR}-{_AR}|[(（]?[附临]{_AR}"
    r"|(?<![0-9０-９])[0-9０-９]{2,}(?![0-9０-９]*(?:米|公里|号线))"
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SURNAMES_2 = _words(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木 独孤 南宫 西门 呼延 轩辕 澹台 "
    "钟离 宗政 濮阳 太叔 申屠 闻人 赫连 第五"
)
_SURNAMES_1 = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温"
    "康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成"
    "苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费"
    "卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
# characters that end a given name (they start the rest of the sentence)
_NAME_STOP = set(
    "住在的是电手联反投举今昨想要现从因跟也就都请身打给向对说了啊呀吗呢我你他她它去到楼区路街市省县镇乡村组院栋号"
    "先女士同们这那某与及或已经还被把让等老"
)
# words that begin with a surname character but are not names (我是成都人, 我是党员)
_NOT_NAMES = _words(
    "成都 成华 温江 金牛 武侯 龙泉 高新 锦江 青羊 新都 双流 郫都 天府 简阳 彭州 金堂 大邑 蒲江 新津 重庆 华西 "
    "党员 万科 华润 龙湖 保利 时代 安置 安居 和平 文明 明天 常住 方便 于是 业主 向阳 阳台 关于 单位 沙河 "
    "路过 路人 周边 周围 周末 江边 石羊 高层 高楼 房东 房客 车主 商家 商户 师傅 司机 宁愿 齐心 乔迁 米易 "
    "方式 方面 方案 施工 路灯 路面 路口 路段 时间 时候 明日 明确 明显 安全 安排 高空 高速 金额 万元 "
    "包括 和谐 应该 解决 于是 于此 常常 双方 单元 单独 房屋 房子 商量 宫殿 全部 全体 相关 祝福 文件"
)
_WEAK_TRIGGER = (
    "我叫|我是|本人|我的名字[叫是]|名字叫|名叫|市民|居民|业主"
    "|联系|致电|告知|通知|回访|答复|约见|转告|询问"  # a handler's reply naming the citizen: 已联系王小明
)
_STRONG_TRIGGER = "姓名|联系人|来电人|反映人|投诉人|举报人|求助人|报案人|当事人"
_NAME_TRIGGER = re.compile(rf"(?:(?P<strong>{_STRONG_TRIGGER})|{_WEAK_TRIGGER})(?P<colon>[:：]?)\s*")
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]{2,4}")
_WECHAT = re.compile(r"(?P<head>(?:微信号?|wx|WeChat|wechat)[:：\s]*)(?P<id>[A-Za-z][-_A-Za-z0-9]{5,19})")


def _digits(token: str) -> str:
    return "".join(str(unicodedata.digit(ch)) for ch in token if ch not in "- ")


def _mask_digits(token: str, head: int, tail: int) -> str:
    """Mask every digit of ``token`` except its first ``head`` and last ``tail`` (separators kept)."""
    positions = [i for i, ch in enumerate(token) if ch not in "- "]
    keep = set(positions[:head]) | set(positions[len(positions) - tail :] if tail else [])
    return "".join(ch if i in keep or ch in "- " else MASK for i, ch in enumerate(token))


def _area_code_length(digits: str) -> int:
    return 3 if digits.startswith(("01", "02")) else 4


def _mask_number(token: str, digits: str) -> str | None:
    """The masked token when ``digits`` is a personal number (or any unseparated run of ≥ 7), else None."""
    n = len(digits)
    if n == 11 and re.fullmatch("1[3-9][0-9]{9}", digits):
        return _mask_digits(token, 3, 4)
    if n == 13 and re.fullmatch("861[3-9][0-9]{9}", digits):
        return _mask_digits(token, 5, 4)
    if n in (15, 18):
        return _mask_digits(token, 6, 1)
    if 16 <= n <= 19:
        return _mask_digits(token, 4, 4)
    if digits.startswith("0") and 10 <= n <= 12:
        return _mask_digits(token, _area_code_length(digits), 2)
    if n >= 7 and not _SEPARATORS.search(token):
        return _mask_digits(token, 0, 2)
    return None


def _redact_digit_run(match: re.Match[str]) -> str:
    token = match.group(0)
    x = match.group("x") or ""
    number = token[: len(token) - len(x)]
    digits = _digits(number)
    if x and len(digits) == 17:  # ID card with X check character: region code and the X kept
        return _mask_digits(number, 6, 0) + x
    masked = _mask_number(number, digits)
    if masked is None and _SEPARATORS.search(number):
        # 2024-01-01 stays; "5 13712345678": each separated part on its own
        masked = "".join(
            part if _SEPARATORS.fullmatch(part) else (_mask_number(part, _digits(part)) or part)
            for part in re.split(r"([- ])", number)
        )
    return (masked or number) + x


def _redact_chinese_digits(match: re.Match[str]) -> str:
    run = match.group(0)
    return MASK * len(run) if _CHINESE_DIGIT.search(run) else run


def _redact_plate(match: re.Match[str]) -> str:
    tail = match.group("tail")
    if not any(ch.isdigit() for ch in tail):
        return match.group(0)  # 川Abcdef: a word, not a plate
    return match.group("head") + match.group("sep") + MASK * (len(tail) - 2) + tail[-2:]


def _redact_house(match: re.Match[str]) -> str:
    return _NUMBER_IN_CHAIN.sub(MASK * 2, match.group(0))


def _redact_dashed_house(match: re.Match[str]) -> str:
    token = match.group(0)
    return token if _DATE.fullmatch(token) else re.sub(_D + "+", MASK * 2, token)


def _name_length(rest: str, labelled: bool) -> tuple[int, int]:
    """(surname length, given-name length) of the name at the start of ``rest``; (0, 0) when none.
    A labelled name (``姓名：…``) may have any surname; otherwise it must be a common one."""
    if any(rest.startswith(word) for word in _NOT_NAMES) or rest[0] in _NAME_STOP:
        return 0, 0
    surname = 2 if rest[:2] in _SURNAMES_2 else 1 if rest[0] in _SURNAMES_1 or labelled else 0
    if surname == 0:
        return 0, 0
    given = 0
    for ch in rest[surname : surname + 2]:
        if ch in _NAME_STOP:
            break
        given += 1
    return surname, given


def _redact_names(text: str) -> str:
    """Mask the given name after each trigger; a trigger not followed by a name still lets the next one count
    (``答复市民王小明``: 答复 → 市民 → 王**)."""
    parts: list[str] = []
    done = 0
    trigger = _NAME_TRIGGER.search(text)
    while trigger is not None:
        start = trigger.end()
        rest = _HAN_RUN.match(text, start)
        surname, given = _name_length(rest.group(0), bool(trigger["strong"] and trigger["colon"])) if rest else (0, 0)
        if given:
            parts += [text[done : start + surname], MASK * given]
            done = start + surname + given
        trigger = _NAME_TRIGGER.search(text, max(done, trigger.end()))
    return "".join(parts) + text[done:]


def _redact_wechat(match: re.Match[str]) -> str:
    wid = match.group("id")
    return match.group("head") + wid[:2] + MASK * (len(wid) - 2)


def redact_text(text: str) -> str:
    """``text`` with phone, ID-card, bank-card and licence-plate numbers, e-mails, house numbers and
    self-introduced names masked (see the module docstring for each rule)."""
    if not text:
        return text
    out = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    out = _DIGIT_RUN.sub(_redact_digit_run, out)
    out = _CHINESE_DIGITS.sub(_redact_chinese_digits, out)
    out = _PLATE.sub(_redact_plate, out)
    out = _DASHED_HOUSE.sub(_redact_dashed_house, out)
    out = _HOUSE_CHAIN.sub(_redact_house, out)
    out = _redact_names(out)
    return _WECHAT.sub(_redact_wechat, out)


def public_description(text: str | None, policy: DescriptionPolicy = "redacted") -> str:
    """What a public surface may show of a citizen's free text: redacted, or nothing (policy ``none``)."""
    if not text or policy == "none":
        return ""
    return redact_text(text)


_ADDRESS_TRAILER = re.compile(r"[\s,，、;；:：()（）\-—/·.。]+$")


def coarsen_address(address: str | None) -> str:
    """The road / community part of an address: everything from the first house number on is dropped
    (``建设路12号3栋2单元501`` → ``建设路``), and what is left is redacted."""
    if not address:
        return ""
    text = address.strip()
    cut = _ADDRESS_CUT.search(text)
    if cut is not None:
        text = text[: cut.start()]
    return redact_text(_ADDRESS_TRAILER.sub("", text))


POINT_DECIMALS = 3  # 0.001° ≈ 111 m north-south, ≈ 96 m east-west at Chengdu's latitude


def coarsen_point(lat: float, lon: float) -> tuple[float, float]:
    """A point rounded to a ~100 m cell (3 decimals)."""
    return round(lat, POINT_DECIMALS), round(lon, POINT_DECIMALS)
