"""并单 decision for two reports: matter agreement, distance, time gap and meaning of the text → score, decision and
reasons.

The score (0..1) is ``0.55·text + 0.20·matter + 0.15·place + 0.10·time``:

- text: :func:`shared.duplicates.text.text_similarity` (concepts, not characters);
- matter: same matter 1, same category 0.6, not given 0.5, another category 0;
- place: 1 within 50 m, 0.6 at 200 m, 0 from 500 m (without coordinates: the addresses — same road and number
  0.9 — or the same grid 0.6);
- time: 1 within a day, 0.5 at seven days.

``merge`` needs the score ≥ :data:`MERGE_SCORE`, the texts alike enough for how their matters relate
(:data:`MERGE_TEXT`: less for the same matter, nearly the same words across categories — a classifier slip),
≤ 200 m (or the same address/grid without coordinates) and ≤ 7 days. ``suggest`` (for a dispatcher to look at)
needs ≥ :data:`SUGGEST_SCORE` within 500 m. Everything else is ``separate``. Every decision comes with its
reasons in Chinese.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from shared.duplicates.text import TextSimilarity, normalise, text_similarity

Decision = Literal["merge", "suggest", "separate"]

WINDOW = timedelta(days=7)
MERGE_RADIUS_M = 200.0
SUGGEST_RADIUS_M = 500.0
MERGE_SCORE = 0.60
#: Text similarity a merge needs, by how the matters relate: the same matter asks less of the words, two matters
#: of one category more, two categories (a classifier slip) nearly the same words.
MERGE_TEXT = {"same_matter": 0.30, "unknown": 0.40, "same_category": 0.55, "other_category": 0.80}
SUGGEST_SCORE = 0.45
SUGGEST_TEXT = 0.20
WEIGHTS = {"text": 0.55, "matter": 0.20, "place": 0.15, "time": 0.10}
_EARTH_M = 6_371_008.8
_ADDRESS_HEAD = re.compile(r"^(?:四川省)?(?:成都市?)?(?:成华区?)?")
_ROAD_NUMBER = re.compile(r"([\u4e00-\u9fa5]{2,10}?(?:路|街|巷|大道)(?:[一二三四五六七八九十]段)?)(\d+)号")


@dataclass(frozen=True)
class Report:
    """One complaint as 并单 sees it. ``time`` should be timezone-aware; ``matter_code`` implies the category."""

    text: str
    address: str | None = None
    lon: float | None = None
    lat: float | None = None
    time: datetime | None = None
    matter_code: str | None = None
    category: str | None = None
    grid_code: str | None = None

    @property
    def category_code(self) -> str | None:
        return self.category or (self.matter_code[:2] if self.matter_code else None)


@dataclass(frozen=True)
class Comparison:
    score: float
    decision: Decision
    reasons: tuple[str, ...]
    text_score: float
    distance_m: float | None
    hours: float | None
    matter: str  # same_matter | same_category | other_category | unknown
    text: TextSimilarity


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_M * math.asin(min(1.0, math.sqrt(h)))


def _matter_name(code: str) -> str:
    from shared.catalog import default_catalog

    matter = default_catalog().get_matter(code)
    return f"{code} {matter.name}" if matter else code


def _category_name(code: str) -> str:
    from shared.catalog import default_catalog

    return f"{default_catalog().categories().get(code, code)} {code}"


def _matter(a: Report, b: Report) -> tuple[str, float, str]:
    ca, cb = a.category_code, b.category_code
    if a.matter_code and a.matter_code == b.matter_code:
        return "same_matter", 1.0, f"事项相同（{_matter_name(a.matter_code)}）"
    if ca and cb and ca == cb:
        if a.matter_code and b.matter_code:
            why = f"同属{_category_name(ca)}，事项不同（{_matter_name(a.matter_code)} / {_matter_name(b.matter_code)}）"
        else:
            why = f"类别相同（{_category_name(ca)}）"
        return "same_category", 0.6, why
    if ca and cb:
        return "other_category", 0.0, f"类别不同（{_category_name(ca)} / {_category_name(cb)}）"
    return "unknown", 0.5, "未提供事项，只比较描述、地点和时间"


def _road_number(address: str | None) -> tuple[str, int] | None:
    m = _ROAD_NUMBER.search(_ADDRESS_HEAD.sub("", normalise(address or "").strip()))
    return (m.group(1), int(m.group(2))) if m else None


def _place(a: Report, b: Report) -> tuple[float, float | None, str, bool]:
    """(closeness 0..1, metres or None, reason, close enough to merge)."""
    if None not in (a.lon, a.lat, b.lon, b.lat):
        d = haversine_m(a.lon, a.lat, b.lon, b.lat)  # type: ignore[arg-type]
        if d <= 50:
            closeness = 1.0
        elif d <= MERGE_RADIUS_M:
            closeness = 1.0 - 0.4 * (d - 50) / (MERGE_RADIUS_M - 50)
        else:
            closeness = max(0.0, 0.6 * (SUGGEST_RADIUS_M - d) / (SUGGEST_RADIUS_M - MERGE_RADIUS_M))
        where = f"相距 {d:.0f} 米" if d < 1000 else f"相距 {d / 1000:.1f} 公里"
        if d > MERGE_RADIUS_M:
            where += f"，超出 {MERGE_RADIUS_M:.0f} 米并单范围"
        return closeness, round(d, 1), where, d <= MERGE_RADIUS_M
    ra, rb = _road_number(a.address), _road_number(b.address)
    if ra and rb and ra[0] == rb[0]:
        if abs(ra[1] - rb[1]) <= 6:
            return 0.9 if ra[1] == rb[1] else 0.75, None, f"无坐标，地址相近（{ra[0]}{ra[1]}号 / {rb[1]}号）", True
        return 0.1, None, f"无坐标，同一条路但门牌相差较远（{ra[0]}{ra[1]}号 / {rb[1]}号）", False
    na, nb = normalise(a.address or "").strip(), normalise(b.address or "").strip()
    if na and na == nb:
        return 0.8, None, f"无坐标，地址相同（{a.address}）", True
    if a.grid_code and a.grid_code == b.grid_code:
        return 0.6, None, f"无坐标，同一网格（{a.grid_code}）", True
    if na and nb:
        return 0.1, None, "无坐标，地址不同", False
    return 0.3, None, "缺少坐标和地址，无法判断距离", False


def _duration(hours: float) -> str:
    if hours < 1 / 60:
        return "不到 1 分钟"
    if hours < 1:
        return f"{round(hours * 60)} 分钟"
    if hours < 48:
        return f"{hours:.0f} 小时"
    days, rest = divmod(round(hours), 24)
    return f"{days} 天" + (f" {rest} 小时" if rest else "")


def _time(a: Report, b: Report) -> tuple[float, float | None, str, bool]:
    if a.time is None or b.time is None:
        return 0.7, None, "缺少时间", True
    ta, tb = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (a.time, b.time))  # naive: UTC, as stored
    hours = abs((ta - tb).total_seconds()) / 3600
    window_h = WINDOW.total_seconds() / 3600
    if hours > window_h:
        return 0.0, round(hours, 2), f"间隔 {_duration(hours)}，超过 {WINDOW.days} 天", False
    closeness = 1.0 if hours <= 24 else 1.0 - 0.5 * (hours - 24) / (window_h - 24)
    return closeness, round(hours, 2), f"间隔 {_duration(hours)}", True


def _text_reason(sim: TextSimilarity) -> str:
    if sim.object_mismatch:
        return f"描述的对象不同：{'、'.join(sim.only_a[:3])} / {'、'.join(sim.only_b[:3])}"
    if not sim.shared:
        return "描述没有共同内容" if sim.score < 0.05 else f"描述只有相关内容（相似度 {sim.score:.2f}）"
    words = "、".join(sim.shared[:5])
    if sim.score >= MERGE_TEXT["unknown"]:
        return f"描述相近：{words}（相似度 {sim.score:.2f}）"
    return f"描述只有部分相同：{words}（相似度 {sim.score:.2f}）"


def compare(a: Report, b: Report) -> Comparison:
    """Are ``a`` and ``b`` the same problem at the same place? Score, decision and reasons in Chinese."""
    sim = text_similarity(a.text, b.text, (a.address, b.address))
    relation, matter_score, matter_why = _matter(a, b)
    place, distance, place_why, near = _place(a, b)
    recency, hours, time_why, in_window = _time(a, b)
    score = (
        WEIGHTS["text"] * sim.score
        + WEIGHTS["matter"] * matter_score
        + WEIGHTS["place"] * place
        + WEIGHTS["time"] * recency
    )
    score = round(min(1.0, score), 4)
    decision: Decision
    if near and in_window and score >= MERGE_SCORE and sim.score >= MERGE_TEXT[relation]:
        decision = "merge"
    elif (
        in_window
        and (distance is None or distance <= SUGGEST_RADIUS_M)
        and place > 0.1
        and score >= SUGGEST_SCORE
        and sim.score >= SUGGEST_TEXT
    ):
        decision = "suggest"
    else:
        decision = "separate"
    reasons = (matter_why, place_why, time_why, _text_reason(sim))
    return Comparison(score, decision, reasons, sim.score, distance, hours, relation, sim)
