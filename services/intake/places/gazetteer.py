"""Address gazetteer: turns a spoken or typed address into a point and a grid, or says it can't.

Data (YAML, WGS-84 lon/lat; see ``data/gazetteer.yaml``)::

    roads:
      - name: 府青路二段              # full name as written on signs; the base 府青路 is derived
        aliases: []
        line: [[104.09, 30.678], [104.092, 30.698]]   # centre line, house numbers grow along it
        ranges:
          - {from: 1, to: 199, parity: odd, side: left}
          - {from: 2, to: 200, parity: even, side: right, line: [...]}   # own line, or
          - {from: 201, to: 221, parity: all, point: [104.09, 30.69]}    # one point for the range
    landmarks:
      - {name: 东郊记忆, aliases: [东郊记忆音乐公园], point: [104.1075, 30.6658], road: 建设南支路}
    compounds:                        # residential compounds (小区) with numbered buildings (栋/幢/号楼)
      - {name: 万科城市花园, aliases: [万科城花], point: [104.12, 30.68], buildings: 18, units: 3}
    areas:                            # short forms of street/community names of the map
      - {code: S04, aliases: [双桥子]}
    context_only: [区政府, 菜市场]     # in a free-text message these count only beside 在/门口/附近 …

Every landmark and compound may name the ``grid`` its point must lie in (checked on load). Buildings 1…N of a
compound are laid out around its point (rows of up to four, 25 m apart, building 1 in the north-west corner)
unless ``building_points`` gives them (``{3: [lon, lat]}``). Street, community and grid names of the
:class:`PlaceIndex` (``八里桥社区第3网格``, spoken ``第三网格``) are added as names of their areas.

Readings and their confidence: a building of a compound 0.97, house number on a road 0.95 (0.9 when only the
road's base name such as 府青路 was given), landmark 0.95 (alias 0.9), compound 0.93 (alias 0.9), intersection
of two named roads 0.85, grid name 0.85, a road alone 0.45. A small typo scales the confidence by the
Levenshtein similarity (``fuzzy=True``); a community/street named in the text that does not hold the point
costs 0.3. The longest name in the text wins over the shorter ones inside it (``万科城市花园`` over ``万科路``).

An address that names only a street or a community (``双桥子``, ``望平社区``) resolves at that level (0.8, a
short form 0.75): ``area`` is set, ``point`` and ``grid`` are not (属地 is known, the grid is not guessed).

:meth:`Gazetteer.extract` finds the address inside a free-text message (``我在建设路街道双林路66号这边，井盖莫得了``
→ ``建设路街道双林路66号``) and resolves it.

:meth:`Gazetteer.resolve` never guesses silently: every reading gets a confidence; the best one is
returned as ``resolved`` only when it reaches ``resolve_threshold`` and no other reading of similar
weight points somewhere else; otherwise ``ambiguous`` (up to 3 candidates, the operator picks) or
``unresolved`` (the operator asks the caller).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from .geo import haversine_m
from .index import PlaceIndex
from .models import (
    AddressCandidate,
    AddressMatch,
    AreaRef,
    ExtractedAddress,
    GridRef,
    PlaceDataError,
    Point,
    Precision,
)
from .text import normalize_address, strip_admin

__all__ = ["Gazetteer"]

Parity = Literal["odd", "even", "all"]
Side = Literal["left", "right", "center"]

_SECTION = re.compile(r"[东西南北]?[一二三四五六七八九十]+段$")
_NUMBER_AFTER = re.compile(r"^(?:的)?(\d{1,5})(?:[-之附]\d{1,4})?(?:号|栋|幢)?")
_BUILDING_AFTER = re.compile(
    r"^(?:小区|的)?(?:第)?(\d{1,3})(?:号楼|号院|栋|幢|座|号)(?:的)?(?:(\d{1,2})单元)?"
    r"|^(?:小区|的)?(\d{1,3})-(\d{1,2})(?:-\d{1,4})?(?!\d)"
)
# what may follow a name inside an address: numbers, buildings, units, rooms, and where exactly
_TAIL = re.compile(
    r"^(?:(?:的)?(?:第)?\d{1,5}(?:[-之附]\d{1,4})*(?:号院|号楼|号|栋|幢|座|单元|弄|楼|层|室|段)?)*"
    r"(?:附近|旁边|边上|对面|门口|门前|路口|交叉口|东侧|西侧|南侧|北侧|一带|周边)?"
)
_QUALIFIER = re.compile(r"^(?:附近|旁边|边上|对面|门口|门前|路口|东侧|西侧|南侧|北侧|一带|周边)?")
# text allowed between two names of one address (建设路街道双林路66号, 建设路与二环路东一段交叉口)
_JOINER = re.compile(r"^(?:街道|社区|与|和|跟|同|及|的|靠近|旁|近|小区)?$")
_ADMIN_BEFORE = re.compile(r"(?:中国)?(?:四川省?)?(?:成都市?)?(?:成华区)?$")
_LOCATIVE_BEFORE = ("在", "到", "去", "住", "位于", "靠近", "近")
_LOCATIVE_AFTER = ("门口", "门前", "附近", "旁边", "边上", "对面", "里面", "外面", "周边", "一带", "后面", "前面")
_UNKNOWN_ADDRESS = re.compile(
    r"(?:住在|家在|在|住|位于|地址是?|地点是?)((?:[\u4e00-\u9fff]{2,8}?(?:路|街|巷|大道)\d{1,5}号)"
    r"|(?:[\u4e00-\u9fff]{2,8}?(?:小区|花园|家园|公寓)(?:\d{1,3}(?:栋|幢|号楼))?))"
)
_NOT_IN_A_NAME = frozenset("我你他她们的了某个各每这那些里外上下后前旁边其所和与住在是有到去从多很搞想请申旧老")
_CLAUSES = re.compile(r"[,，.。;；!！?？、\n]+")
_BUILDING_DX_M = 25.0
_BUILDING_DY_M = 30.0
_BUILDINGS_PER_ROW = 4
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON_EQ = 111_320.0

# confidences of the different kinds of evidence (before fuzzy scaling)
_CONF_HOUSE = 0.95
_CONF_HOUSE_BY_BASE = 0.9
_CONF_LANDMARK = 0.95
_CONF_LANDMARK_ALIAS = 0.9
_CONF_SHARED_ALIAS = 0.55
_CONF_BUILDING = 0.97
_CONF_COMPOUND = 0.93
_CONF_COMPOUND_ALIAS = 0.9
_CONF_BUILDING_UNKNOWN = 0.88
_CONF_INTERSECTION = 0.85
_CONF_GRID = 0.85
_CONF_COMMUNITY = 0.7
_CONF_STREET = 0.5
_CONF_AREA_LEVEL = 0.8
_CONF_AREA_LEVEL_ALIAS = 0.75
_CONF_ROAD_IN_ONE_STREET = 0.75
_ROAD_SAMPLE_M = 40.0
_CONF_ROAD_ONLY = 0.45
_CONF_ROAD_NUMBER_UNKNOWN = 0.4
_BONUS_CONSISTENT = 0.03
_BONUS_FUZZY_NUMBER = 0.05
_PENALTY_AREA_MISMATCH = 0.3
_STRONG: tuple[Precision, ...] = ("building", "compound", "house_number", "intersection", "landmark")


@dataclass(frozen=True)
class _Range:
    start: int
    end: int
    parity: Parity
    side: Side
    line: tuple[Point, ...] | None
    point: Point | None

    def covers(self, number: int) -> bool:
        if not min(self.start, self.end) <= number <= max(self.start, self.end):
            return False
        return self.parity == "all" or (number % 2 == 1) == (self.parity == "odd")


@dataclass(frozen=True)
class _Road:
    name: str
    base: str
    aliases: tuple[str, ...]
    line: tuple[Point, ...]
    ranges: tuple[_Range, ...]


@dataclass(frozen=True)
class _Landmark:
    name: str
    aliases: tuple[str, ...]
    point: Point
    road: str | None


@dataclass(frozen=True)
class _Compound:
    name: str
    aliases: tuple[str, ...]
    point: Point
    road: str | None
    buildings: tuple[Point, ...]  # building n is buildings[n - 1]
    units: int | None


@dataclass(frozen=True)
class _Area:
    level: Literal["grid", "community", "street"]
    code: str
    name: str
    point: Point


@dataclass(frozen=True)
class _Named:
    """What a name (or alias) in the text can refer to."""

    road: _Road | None = None
    landmark: _Landmark | None = None
    compound: _Compound | None = None
    area: _Area | None = None
    alias: bool = False
    attributed: bool = False  # a street not on the map, attributed to this area: it never contradicts a point


@dataclass
class _Mention:
    key: str
    start: int
    end: int
    targets: list[_Named]
    similarity: float = 1.0


@dataclass
class _Evidence:
    candidates: list[AddressCandidate] = field(default_factory=list)
    areas: list[_Area] = field(default_factory=list)
    area_aliases: set[str] = field(default_factory=set)  # codes of areas named by a short form only
    road_mentions: list[_Road] = field(default_factory=list)


# ---- parsing the YAML --------------------------------------------------------------------------
def _point(raw: object, where: str) -> Point:
    if (
        not isinstance(raw, Sequence)
        or isinstance(raw, str)
        or len(raw) != 2
        or not all(isinstance(v, int | float) for v in raw)
    ):
        raise PlaceDataError(f"{where}: a point must be [lon, lat], got {raw!r}")
    lon, lat = float(raw[0]), float(raw[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise PlaceDataError(f"{where}: [lon, lat] out of range: {raw!r}")
    return (lon, lat)


def _line(raw: object, where: str) -> tuple[Point, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or len(raw) < 2:
        raise PlaceDataError(f"{where}: a line needs at least 2 [lon, lat] points")
    return tuple(_point(p, where) for p in raw)


def _names(raw: object, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(a, str) and a.strip() for a in raw):
        raise PlaceDataError(f"{where}: 'aliases' must be a list of non-empty strings")
    return tuple(a.strip() for a in raw)


def _parse_range(raw: object, where: str, road_line: tuple[Point, ...] | None) -> _Range:
    if not isinstance(raw, Mapping):
        raise PlaceDataError(f"{where}: a range must be a mapping")
    start, end = raw.get("from"), raw.get("to")
    if not isinstance(start, int) or not isinstance(end, int) or start < 0 or end < 0:
        raise PlaceDataError(f"{where}: 'from' and 'to' must be house numbers")
    parity, side = raw.get("parity", "all"), raw.get("side", "center")
    if parity not in ("odd", "even", "all") or side not in ("left", "right", "center"):
        raise PlaceDataError(f"{where}: parity must be odd|even|all and side left|right|center")
    point = _point(raw["point"], where) if raw.get("point") is not None else None
    line = _line(raw["line"], where) if raw.get("line") is not None else None
    if point is None and line is None and road_line is None:
        raise PlaceDataError(f"{where}: needs a 'line' or a 'point' (the road has no line)")
    return _Range(start, end, cast(Parity, parity), cast(Side, side), line or (None if point else road_line), point)


def _parse_road(i: int, raw: object) -> _Road:
    name = raw.get("name") if isinstance(raw, Mapping) else None
    where = f"road #{i}" + (f" ({name})" if name else "")
    if not isinstance(raw, Mapping) or not isinstance(name, str) or not name.strip():
        raise PlaceDataError(f"{where}: missing 'name'")
    line = _line(raw["line"], where) if raw.get("line") is not None else None
    ranges_raw = raw.get("ranges") or []
    if not isinstance(ranges_raw, list):
        raise PlaceDataError(f"{where}: 'ranges' must be a list")
    ranges = tuple(_parse_range(r, f"{where} range #{j}", line) for j, r in enumerate(ranges_raw))
    if line is None:
        if not ranges:
            raise PlaceDataError(f"{where}: needs a 'line' or 'ranges'")
        first = ranges[0]
        line = first.line or ((first.point, first.point) if first.point else None)
    base = _SECTION.sub("", name.strip()) or name.strip()
    return _Road(name.strip(), base, _names(raw.get("aliases"), where), cast(tuple[Point, ...], line), ranges)


def _place_head(kind: str, i: int, raw: object) -> tuple[Mapping[str, Any], str, str]:
    """(entry, name, where) of a landmark's or compound's entry, which must have a name and a point."""
    name = raw.get("name") if isinstance(raw, Mapping) else None
    where = f"{kind} #{i}" + (f" ({name})" if name else "")
    if not isinstance(raw, Mapping) or not isinstance(name, str) or not name.strip():
        raise PlaceDataError(f"{where}: missing 'name'")
    if raw.get("point") is None:
        raise PlaceDataError(f"{where}: missing 'point'")
    return raw, name.strip(), where


def _road_name(raw: Mapping[str, Any]) -> str | None:
    road = raw.get("road")
    return road.strip() if isinstance(road, str) and road.strip() else None


def _parse_landmark(i: int, raw: object) -> _Landmark:
    entry, name, where = _place_head("landmark", i, raw)
    return _Landmark(name, _names(entry.get("aliases"), where), _point(entry["point"], where), _road_name(entry))


def _parse_compound(i: int, raw: object) -> tuple[_Compound, str | None]:
    entry, name, where = _place_head("compound", i, raw)
    point = _point(entry["point"], where)
    count, units = entry.get("buildings", 0), entry.get("units")
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 200:
        raise PlaceDataError(f"{where}: 'buildings' must be a number of buildings (0-200)")
    if units is not None and (not isinstance(units, int) or isinstance(units, bool) or not 1 <= units <= 20):
        raise PlaceDataError(f"{where}: 'units' must be a number of units per building (1-20)")
    given = entry.get("building_points") or {}
    if not isinstance(given, Mapping) or not all(isinstance(k, int) and 1 <= k <= count for k in given):
        raise PlaceDataError(f"{where}: 'building_points' must map building numbers 1..{count} to [lon, lat]")
    buildings = tuple(
        _point(given[n], where) if n in given else _building_point(point, n, count) for n in range(1, count + 1)
    )
    compound = _Compound(name, _names(entry.get("aliases"), where), point, _road_name(entry), buildings, units)
    grid = entry.get("grid")
    return compound, grid if isinstance(grid, str) else None


def _building_point(center: Point, number: int, count: int) -> Point:
    """Building ``number`` of ``count`` laid out in rows of four around the compound's point (1 = north-west)."""
    per_row = min(_BUILDINGS_PER_ROW, count)
    rows = math.ceil(count / per_row)
    row, col = divmod(number - 1, per_row)
    dx = (col - (per_row - 1) / 2) * _BUILDING_DX_M
    dy = ((rows - 1) / 2 - row) * _BUILDING_DY_M
    return _to_lonlat((dx, dy), center)


def _check_grid(where: str, point: Point, want: object, places: PlaceIndex) -> None:
    if want is None:
        return
    got = places.locate(*point)
    if got is None or got.grid_code != want:
        raise PlaceDataError(f"{where}: point {list(point)} lies in grid {got.grid_code if got else None}, not {want}")


def _area_ref(grid: GridRef | None) -> AreaRef | None:
    if grid is None:
        return None
    return AreaRef(
        street_code=grid.street_code,
        street_name=grid.street_name,
        community_code=grid.community_code,
        community_name=grid.community_name,
    )


# ---- geometry on a line ------------------------------------------------------------------------
def _to_xy(p: Point, origin: Point) -> tuple[float, float]:
    k = _M_PER_DEG_LON_EQ * math.cos(math.radians(origin[1]))
    return ((p[0] - origin[0]) * k, (p[1] - origin[1]) * _M_PER_DEG_LAT)


def _to_lonlat(xy: tuple[float, float], origin: Point) -> Point:
    k = _M_PER_DEG_LON_EQ * math.cos(math.radians(origin[1]))
    return (origin[0] + xy[0] / k, origin[1] + xy[1] / _M_PER_DEG_LAT)


def _along(line: Sequence[Point], t: float, side: Side = "center", offset_m: float = 0.0) -> Point:
    """Point at fraction ``t`` of the line length, moved ``offset_m`` to the left/right of it."""
    origin = line[0]
    xy = [_to_xy(p, origin) for p in line]
    lengths = [math.dist(a, b) for a, b in zip(xy, xy[1:], strict=False)]
    target = max(0.0, min(1.0, t)) * sum(lengths)
    for (a, b), seg in zip(zip(xy, xy[1:], strict=False), lengths, strict=True):
        if target <= seg or (a, b) == (xy[-2], xy[-1]):
            f = target / seg if seg else 0.0
            x, y = a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f
            if side != "center" and seg:
                nx, ny = -(b[1] - a[1]) / seg, (b[0] - a[0]) / seg  # unit normal to the left
                sign = 1.0 if side == "left" else -1.0
                x, y = x + sign * nx * offset_m, y + sign * ny * offset_m
            return _to_lonlat((x, y), origin)
        target -= seg
    return line[-1]


def _segment_intersection(p: Sequence[Point], q: Sequence[Point]) -> Point | None:
    """First crossing of two polylines (plane approximation, fine at district scale)."""
    for a, b in zip(p, p[1:], strict=False):
        for c, d in zip(q, q[1:], strict=False):
            den = (b[0] - a[0]) * (d[1] - c[1]) - (b[1] - a[1]) * (d[0] - c[0])
            if den == 0:
                continue
            s = ((c[0] - a[0]) * (d[1] - c[1]) - (c[1] - a[1]) * (d[0] - c[0])) / den
            u = ((c[0] - a[0]) * (b[1] - a[1]) - (c[1] - a[1]) * (b[0] - a[0])) / den
            if 0 <= s <= 1 and 0 <= u <= 1:
                return (a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1]))
    return None


def _best_window(key: str, text: str) -> tuple[float, int, int] | None:
    """Best Levenshtein similarity of ``key`` against windows of ``text`` near rapidfuzz's alignment."""
    aligned = fuzz.partial_ratio_alignment(key, text, score_cutoff=55)
    if aligned is None:
        return None
    best: tuple[float, int, int] | None = None
    for start in range(max(0, aligned.dest_start - 1), aligned.dest_start + 2):
        for size in (len(key), len(key) - 1, len(key) + 1):
            end = start + size
            if size < 2 or end > len(text):
                continue
            sim = Levenshtein.normalized_similarity(key, text[start:end])
            if best is None or sim > best[0]:
                best = (sim, start, end)
    return best if best and best[0] < 1.0 else None


def _typo_beyond(exact: _Mention, key: str, text: str, start: int, end: int) -> bool:
    """A fuzzy match of ``key`` over ``text[start:end]`` overlaps the exact mention ``exact``: it stands only if
    ``key`` begins with the exact name and its rest (2+ characters) is itself a near match of what follows."""
    if exact.start != start or not key.startswith(exact.key):
        return False
    rest_key, rest_text = key[len(exact.key) :], text[exact.end : end]
    return len(rest_key) >= 2 and Levenshtein.normalized_similarity(rest_key, rest_text) >= 0.66


def _contains(area: AddressCandidate, best: AddressCandidate) -> bool:
    """True if ``area`` is a community/street reading that holds the point of ``best`` (no conflict)."""
    if area.grid is None or best.grid is None:
        return False
    if area.precision == "community":
        return area.grid.community_code == best.grid.community_code
    return area.precision == "street" and area.grid.street_code == best.grid.street_code


class Gazetteer:
    """Roads with house-number ranges, landmarks, compounds and area names, resolved against a PlaceIndex."""

    def __init__(
        self,
        roads: Sequence[_Road],
        landmarks: Sequence[_Landmark],
        places: PlaceIndex,
        *,
        compounds: Sequence[_Compound] = (),
        area_aliases: Mapping[str, Sequence[str]] | None = None,
        attributed: Mapping[str, Sequence[str]] | None = None,
        context_only: Sequence[str] = (),
        resolve_threshold: float = 0.7,
        candidate_threshold: float = 0.3,
        side_offset_m: float = 12.0,
        conflict_m: float = 300.0,
    ) -> None:
        self.places = places
        self.resolve_threshold = resolve_threshold
        self.candidate_threshold = candidate_threshold
        self.side_offset_m = side_offset_m
        self.conflict_m = conflict_m
        self._roads = list(roads)
        self._landmarks = list(landmarks)
        self._compounds = list(compounds)
        self._area_aliases = {code: tuple(names) for code, names in (area_aliases or {}).items()}
        self._attributed = {code: tuple(names) for code, names in (attributed or {}).items()}
        self._context_only = {normalize_address(n).casefold() for n in context_only}
        self._index: dict[str, list[_Named]] = {}
        self._build_index()
        self._road_areas = {road.name: self._areas_along(road.line) for road in self._roads}
        self._keys = sorted(self._index, key=lambda k: (-len(k), k))

    # ---- construction --------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path, place_index: PlaceIndex, **options: float) -> Gazetteer:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise PlaceDataError(f"cannot read gazetteer {path}: {exc}") from exc
        return cls.from_dict(data, place_index, **options)

    @classmethod
    def from_dict(cls, data: object, place_index: PlaceIndex, **options: float) -> Gazetteer:
        if not isinstance(data, Mapping):
            raise PlaceDataError("gazetteer: top level must be a mapping with 'roads' and 'landmarks'")
        raw_lists = {k: data.get(k) or [] for k in ("roads", "landmarks", "compounds", "areas", "context_only")}
        for key, value in raw_lists.items():
            if not isinstance(value, list):
                raise PlaceDataError(f"gazetteer: {key!r} must be a list")
        roads = [_parse_road(i, r) for i, r in enumerate(raw_lists["roads"])]
        landmarks: list[_Landmark] = []
        for i, raw in enumerate(raw_lists["landmarks"]):
            landmark = _parse_landmark(i, raw)
            _check_grid(f"landmark #{i} ({landmark.name})", landmark.point, raw.get("grid"), place_index)
            landmarks.append(landmark)
        compounds: list[_Compound] = []
        for i, raw in enumerate(raw_lists["compounds"]):
            compound, grid = _parse_compound(i, raw)
            _check_grid(f"compound #{i} ({compound.name})", compound.point, grid, place_index)
            compounds.append(compound)
        aliases: dict[str, list[str]] = {}
        attributed: dict[str, list[str]] = {}
        for i, raw in enumerate(raw_lists["areas"]):
            code = raw.get("code") if isinstance(raw, Mapping) else None
            if not isinstance(code, str) or place_index.place(code) is None:
                raise PlaceDataError(f"area #{i}: 'code' must be a street, community or grid code of the map")
            aliases.setdefault(code, []).extend(_names(raw.get("aliases"), f"area #{i} ({code})"))
            attributed.setdefault(code, []).extend(_names(raw.get("attributed"), f"area #{i} ({code})"))
        context_only = raw_lists["context_only"]
        if not all(isinstance(n, str) and n.strip() for n in context_only):
            raise PlaceDataError("gazetteer: 'context_only' must be a list of names")
        return cls(
            roads,
            landmarks,
            place_index,
            compounds=compounds,
            area_aliases=aliases,
            attributed=attributed,
            context_only=context_only,
            **options,
        )

    def _add(self, key: str, named: _Named) -> None:
        norm = normalize_address(key).casefold()
        if norm and named not in self._index.setdefault(norm, []):
            self._index[norm].append(named)

    def _build_index(self) -> None:
        for road in self._roads:
            self._add(road.name, _Named(road=road))
            for alias in road.aliases:
                self._add(alias, _Named(road=road, alias=True))
            if road.base != road.name:
                self._add(road.base, _Named(road=road, alias=True))
        for lm in self._landmarks:
            self._add(lm.name, _Named(landmark=lm))
            for alias in lm.aliases:
                self._add(alias, _Named(landmark=lm, alias=True))
        for compound in self._compounds:
            self._add(compound.name, _Named(compound=compound))
            for alias in compound.aliases:
                self._add(alias, _Named(compound=compound, alias=True))
        grids = [self.places.place(g.grid_code) for g in self.places.grids()]
        for level, refs in (
            ("street", self.places.streets()),
            ("community", self.places.communities()),
            ("grid", [g for g in grids if g is not None]),
        ):
            for ref in refs:
                point = self.places.centroid(ref.code)
                if point is None:
                    continue
                area = _Area(cast(Any, level), ref.code, ref.name, point)
                self._add(ref.name, _Named(area=area))
                for alias in self._area_aliases.get(ref.code, ()):
                    self._add(alias, _Named(area=area, alias=True))
                for name in self._attributed.get(ref.code, ()):
                    self._add(name, _Named(area=area, alias=True, attributed=True))

    def _areas_along(self, line: Sequence[Point]) -> tuple[frozenset[str], frozenset[str]]:
        """(street codes, community codes) the line passes through, sampled every 40 m."""
        origin = line[0]
        length = sum(math.dist(_to_xy(a, origin), _to_xy(b, origin)) for a, b in zip(line, line[1:], strict=False))
        steps = max(1, math.ceil(length / _ROAD_SAMPLE_M))
        grids = [self.places.locate(*_along(line, k / steps)) for k in range(steps + 1)]
        return (
            frozenset(g.street_code for g in grids if g is not None),
            frozenset(g.community_code for g in grids if g is not None),
        )

    def names(self) -> list[str]:
        """Every road, landmark, compound and area name known (for operator autocomplete)."""
        return sorted(
            {r.name for r in self._roads}
            | {lm.name for lm in self._landmarks}
            | {c.name for c in self._compounds}
            | {n.area.name for ns in self._index.values() for n in ns if n.area}
        )

    # ---- resolving -----------------------------------------------------------------------------
    def resolve(self, text: str) -> AddressMatch:
        """Resolve a free-text address (see the module docstring for the rules)."""
        norm = normalize_address(text).casefold()
        if not norm:
            return AddressMatch(status="unresolved", confidence=0.0, normalized=norm)
        mentions = self._exact_mentions(norm)
        evidence = self._evidence(norm, mentions)
        if not any(c.precision in _STRONG for c in evidence.candidates):
            fuzzy = self._fuzzy_mentions(norm, mentions)
            if fuzzy:
                evidence = self._evidence(strip_admin(norm), mentions, fuzzy_mentions=fuzzy)
        return self._decide(norm, evidence)

    def extract(self, text: str) -> ExtractedAddress | None:
        """The address written inside a free-text message, resolved; None when the message names no place.

        The message is scanned for known names (exact, no typo tolerance: a long message would match
        something by chance); names next to each other (with what belongs to an address after them:
        numbers, 栋/单元, 门口/附近 …) form one address. Generic names listed in ``context_only`` count only
        beside a locative word (在…, …门口). Each address found is resolved; the best reading wins. A
        message with no known name but an address-shaped phrase (``住在幸福小区3栋``) gives that phrase,
        unresolved, so the operator sees it.
        """
        norm = normalize_address(text).casefold()
        if not norm:
            return None
        mentions = [m for m in self._exact_mentions(norm) if self._counts_in_text(norm, m)]
        best: tuple[tuple[int, float, int], ExtractedAddress] | None = None
        for start, end in self._address_spans(norm, mentions):
            piece = norm[start:end]
            match = self.resolve(piece)
            rank = {"resolved": 2, "ambiguous": 1, "unresolved": 0}[match.status]
            key = (rank, match.confidence, end - start)
            if best is None or key > best[0]:
                best = (key, ExtractedAddress(text=piece, match=match))
        if best is not None:
            return best[1]
        for clause in _CLAUSES.split(text):  # within one clause: 住在桥南街，小区的… names no compound
            unknown = _UNKNOWN_ADDRESS.search(normalize_address(clause).casefold())
            if unknown is None:
                continue
            piece = unknown.group(1)
            name = re.sub(r"(?:小区|花园|家园|公寓)(?:\d{1,3}(?:栋|幢|号楼))?$", "", piece)
            if "小区" in name or any(ch in _NOT_IN_A_NAME for ch in name):
                continue  # 我们小区, 的某小区, 老旧小区: no name was written
            return ExtractedAddress(text=piece, match=self.resolve(piece))
        return None

    def _counts_in_text(self, text: str, m: _Mention) -> bool:
        if m.key not in self._context_only:
            return True
        before, after = text[max(0, m.start - 2) : m.start], text[m.end : m.end + 2]
        return any(before.endswith(w) for w in _LOCATIVE_BEFORE) or any(after.startswith(w) for w in _LOCATIVE_AFTER)

    def _address_spans(self, text: str, mentions: Sequence[_Mention]) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for m in mentions:
            numbered = any(t.road or t.compound for t in m.targets)
            tail = (_TAIL if numbered else _QUALIFIER).match(text[m.end :])
            end = m.end + (tail.end() if tail else 0)
            if any(t.road for t in m.targets) and text.startswith("街道", m.end):
                end = m.end + 2  # 建设路街道: a street's name
            admin = _ADMIN_BEFORE.search(text[: m.start])
            start = admin.start() if admin else m.start
            if spans and _JOINER.match(text[spans[-1][1] : m.start]):  # also when the tail reached this name
                spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
            else:
                spans.append((start, end))
        return spans

    def _exact_mentions(self, text: str) -> list[_Mention]:
        taken = [False] * len(text)
        found: list[_Mention] = []
        for key in self._keys:
            start = text.find(key)
            while start >= 0:
                end = start + len(key)
                if not any(taken[start:end]):
                    taken[start:end] = [True] * len(key)
                    found.append(_Mention(key, start, end, self._index[key]))
                start = text.find(key, start + 1)
        return sorted(found, key=lambda m: m.start)

    def _fuzzy_mentions(self, text: str, exact: Sequence[_Mention]) -> list[_Mention]:
        """Names written with a small typo (one wrong character in a 3-4 character name, about one in
        six for longer ones), outside the text already explained by exact mentions."""
        text = strip_admin(text)
        exact_here = self._exact_mentions(text) if exact else []
        covered = [(m.start, m.end) for m in exact_here]
        found: list[_Mention] = []
        for key in self._keys:
            targets = [t for t in self._index[key] if t.area is None]
            if len(key) < 3 or len(key) > len(text) + 1 or not targets:
                continue
            hit = _best_window(key, text)
            if hit is None:
                continue
            similarity, start, end = hit
            if similarity < (0.66 if len(key) == 3 else 0.75):
                continue
            if len(key) == 3 and any(t.road for t in targets) and text[end - 1] != key[-1]:
                continue  # a short road name must keep its suffix (路/街): 火星路 is not 建设路
            if any(a <= start and end <= b for a, b in covered):
                continue
            if any(not _typo_beyond(m, key, text, start, end) for m in exact_here if m.start < end and start < m.end):
                continue  # the text says 双桥子; 双桥子站 is not a typo of it (猛追湾滨河公圆 is one of 猛追湾滨河公园)
            found.append(_Mention(key, start, end, targets, similarity))
        return found

    def _evidence(self, text: str, mentions: list[_Mention], fuzzy_mentions: Sequence[_Mention] = ()) -> _Evidence:
        ev = _Evidence()
        all_mentions = [*mentions, *fuzzy_mentions]
        mentioned_roads = {t.road.name for m in all_mentions for t in m.targets if t.road} | {
            t.road.base for m in all_mentions for t in m.targets if t.road
        }
        areas = [t.area for m in all_mentions for t in m.targets if t.area and not t.attributed]
        attributed = [t.area for m in all_mentions for t in m.targets if t.area and t.attributed]
        for m in all_mentions:
            fuzzy = m.similarity < 1.0
            roads = [t for t in m.targets if t.road]
            if roads:
                self._road_evidence(ev, text, m, roads, fuzzy)
            landmarks = [t for t in m.targets if t.landmark]
            if landmarks:
                self._landmark_evidence(ev, m, landmarks, mentioned_roads, areas, fuzzy)
            compounds = [t for t in m.targets if t.compound]
            if compounds:
                self._compound_evidence(ev, text, m, compounds, mentioned_roads, areas, fuzzy)
        # a street attributed to a map area (建设路街道 → 猛追湾街道) says where only when nothing else does
        ev.areas = areas if areas or any(c.precision in _STRONG for c in ev.candidates) else attributed
        named_in_full = {t.area.code for m in all_mentions for t in m.targets if t.area and not t.alias}
        ev.area_aliases = {t.area.code for m in all_mentions for t in m.targets if t.area and t.alias} - named_in_full
        self._intersection_evidence(ev)
        return ev

    def _candidate(
        self, matched: str, point: Point, confidence: float, precision: Precision, fuzzy: bool = False
    ) -> AddressCandidate:
        return AddressCandidate(
            matched=matched,
            point=(round(point[0], 7), round(point[1], 7)),
            grid=self.places.locate(*point),
            confidence=round(min(confidence, 1.0), 3),
            precision=precision,
            fuzzy=fuzzy,
        )

    def _house_point(self, rng: _Range, number: int) -> Point:
        if rng.point is not None:
            return rng.point
        span = rng.end - rng.start
        t = 0.5 if span == 0 else (number - rng.start) / span
        return _along(cast(tuple[Point, ...], rng.line), t, rng.side, self.side_offset_m)

    def _road_evidence(self, ev: _Evidence, text: str, m: _Mention, roads: list[_Named], fuzzy: bool) -> None:
        if text.startswith("街道", m.end):
            return  # 建设路街道: the name of a street (街道办事处 area), not the road
        found = _NUMBER_AFTER.match(text[m.end :])
        number = int(found.group(1)) if found else None
        hits = [(t, r) for t in roads for r in cast(_Road, t.road).ranges if number is not None and r.covers(number)]
        for t, rng in hits:
            road = cast(_Road, t.road)
            base = _CONF_HOUSE_BY_BASE if t.alias and len(roads) > 1 else _CONF_HOUSE
            conf = base * m.similarity + (_BONUS_FUZZY_NUMBER if fuzzy else 0.0)
            ev.candidates.append(
                self._candidate(
                    f"{road.name} {number}号", self._house_point(rng, cast(int, number)), conf, "house_number", fuzzy
                )
            )
        if hits:
            return
        for t in roads:
            road = cast(_Road, t.road)
            ev.road_mentions.append(road)
            conf = (_CONF_ROAD_ONLY if number is None else _CONF_ROAD_NUMBER_UNKNOWN) * m.similarity
            matched = road.name if number is None else f"{road.name}（无{number}号）"
            ev.candidates.append(self._candidate(matched, _along(road.line, 0.5), conf, "road", fuzzy))

    def _in_areas(self, point: Point, areas: Sequence[_Area]) -> bool:
        grid = self.places.locate(*point)
        return grid is not None and any(a.code in (grid.community_code, grid.street_code) for a in areas)

    def _narrow(
        self,
        targets: list[_Named],
        place: Callable[[_Named], _Landmark | _Compound],
        mentioned_roads: set[str],
        areas: Sequence[_Area],
    ) -> list[_Named]:
        """Of places sharing a name, those on a road named in the text, else those in a named area, else all."""
        if len(targets) <= 1:
            return targets
        on_road = [t for t in targets if place(t).road in mentioned_roads]
        in_area = [t for t in targets if self._in_areas(place(t).point, areas)]
        return on_road or in_area or targets

    def _landmark_evidence(
        self,
        ev: _Evidence,
        m: _Mention,
        targets: list[_Named],
        mentioned_roads: set[str],
        areas: Sequence[_Area],
        fuzzy: bool,
    ) -> None:
        # a shared alias such as 小吃街: a road or area named in the text decides
        targets = self._narrow(targets, lambda t: cast(_Landmark, t.landmark), mentioned_roads, areas)
        for t in targets:
            lm = cast(_Landmark, t.landmark)
            if len(targets) > 1:
                conf = _CONF_SHARED_ALIAS
            else:
                conf = _CONF_LANDMARK_ALIAS if t.alias else _CONF_LANDMARK
                conf += _BONUS_CONSISTENT if lm.road in mentioned_roads else 0.0
            ev.candidates.append(self._candidate(lm.name, lm.point, conf * m.similarity, "landmark", fuzzy))

    def _compound_evidence(
        self,
        ev: _Evidence,
        text: str,
        m: _Mention,
        targets: list[_Named],
        mentioned_roads: set[str],
        areas: Sequence[_Area],
        fuzzy: bool,
    ) -> None:
        # a name two compounds share: a road or area named in the text decides
        targets = self._narrow(targets, lambda t: cast(_Compound, t.compound), mentioned_roads, areas)
        found = _BUILDING_AFTER.match(text[m.end :])
        building = unit = None
        if found:
            building = int(found.group(1) or found.group(3))
            unit_text = found.group(2) or found.group(4)
            unit = int(unit_text) if unit_text else None
        for t in targets:
            compound = cast(_Compound, t.compound)
            shared = len(targets) > 1
            if building is not None and 1 <= building <= len(compound.buildings):
                point, precision = compound.buildings[building - 1], cast(Precision, "building")
                has_unit = unit is not None and (compound.units is None or 1 <= unit <= compound.units)
                matched = f"{compound.name} {building}栋" + (f"{unit}单元" if has_unit else "")
                conf = _CONF_SHARED_ALIAS if shared else _CONF_BUILDING
            elif building is not None and compound.buildings:
                point, precision = compound.point, cast(Precision, "compound")
                matched = f"{compound.name}（无{building}栋）"
                conf = _CONF_SHARED_ALIAS if shared else _CONF_BUILDING_UNKNOWN
            else:
                point, precision, matched = compound.point, cast(Precision, "compound"), compound.name
                conf = _CONF_SHARED_ALIAS if shared else (_CONF_COMPOUND_ALIAS if t.alias else _CONF_COMPOUND)
            ev.candidates.append(self._candidate(matched, point, conf * m.similarity, precision, fuzzy))

    def _intersection_evidence(self, ev: _Evidence) -> None:
        roads = list({r.name: r for r in ev.road_mentions}.values())
        for i, a in enumerate(roads):
            for b in roads[i + 1 :]:
                if a.base == b.base:
                    continue
                point = _segment_intersection(a.line, b.line)
                if point is not None:
                    ev.candidates.append(
                        self._candidate(f"{a.name}与{b.name}交叉口", point, _CONF_INTERSECTION, "intersection")
                    )

    def _area_candidates(self, areas: list[_Area]) -> list[AddressCandidate]:
        unique = list({a.code: a for a in areas}.values())
        conf = {"grid": _CONF_GRID, "community": _CONF_COMMUNITY, "street": _CONF_STREET}
        return [self._candidate(a.name, a.point, conf[a.level], cast(Precision, a.level)) for a in unique]

    def _area_penalty(self, best: AddressCandidate, areas: list[_Area]) -> float:
        """Lower the confidence when the text names a community/street that does not hold the point."""
        if not areas or best.grid is None:
            return 0.0
        codes = {best.grid.grid_code, best.grid.community_code, best.grid.street_code}
        return 0.0 if any(a.code in codes for a in areas) else _PENALTY_AREA_MISMATCH

    def _area_level(self, norm: str, ev: _Evidence) -> AddressMatch | None:
        """Only a street and/or a community is named (no point-level reading): resolve at that level when the
        names agree (the community lies in the named street)."""
        unique = list({a.code: a for a in ev.areas}.values())
        if not unique or any(a.level == "grid" for a in unique):
            return None
        communities = [a for a in unique if a.level == "community"]
        streets = [a for a in unique if a.level == "street"]
        if len(communities) > 1 or len(streets) > 1:
            return None
        community = communities[0] if communities else None
        street_code = self.places.place(community.code).parent if community else streets[0].code  # type: ignore[union-attr]
        if streets and streets[0].code != street_code:
            return None
        street = self.places.place(street_code)
        if street is None:
            return None
        named = community or streets[0]
        aliased = named.code in ev.area_aliases
        return AddressMatch(
            status="resolved",
            confidence=_CONF_AREA_LEVEL_ALIAS if aliased else _CONF_AREA_LEVEL,
            matched=named.name,
            precision=named.level,
            normalized=norm,
            area=AreaRef(
                street_code=street.code,
                street_name=street.name,
                community_code=community.code if community else None,
                community_name=community.name if community else None,
            ),
        )

    def _road_level(self, norm: str, ev: _Evidence) -> AddressMatch | None:
        """Only roads are named, without a house number the gazetteer knows: resolve to the street (and the
        community) when every road named lies in one street; the point and the grid are not guessed."""
        roads = list({r.name: r for r in ev.road_mentions}.values())
        if not roads or any(c.fuzzy for c in ev.candidates):
            return None
        streets = frozenset.intersection(*(self._road_areas[r.name][0] for r in roads))
        if len(streets) != 1 or any(len(self._road_areas[r.name][0]) != 1 for r in roads):
            return None
        communities = frozenset.union(*(self._road_areas[r.name][1] for r in roads))
        street = self.places.place(next(iter(streets)))
        community = self.places.place(next(iter(communities))) if len(communities) == 1 else None
        if street is None:
            return None
        return AddressMatch(
            status="resolved",
            confidence=_CONF_ROAD_IN_ONE_STREET,
            matched="、".join(r.name for r in roads),
            precision="road",
            normalized=norm,
            area=AreaRef(
                street_code=street.code,
                street_name=street.name,
                community_code=community.code if community else None,
                community_name=community.name if community else None,
            ),
        )

    def _decide(self, norm: str, ev: _Evidence) -> AddressMatch:
        strong = [c for c in ev.candidates if c.precision in _STRONG]
        areas = self._area_candidates(ev.areas)
        if not strong:
            area_level = self._area_level(norm, ev)
            if area_level is not None:
                return area_level
            if areas and not any(a.level == "grid" for a in ev.areas):  # names that disagree (街道 vs 社区)
                shown = tuple(sorted(areas, key=lambda c: (-c.confidence, c.matched)))[:3]
                return AddressMatch(
                    status="ambiguous", confidence=shown[0].confidence, candidates=shown, normalized=norm
                )
            if not areas and (road_level := self._road_level(norm, ev)) is not None:
                return road_level
        pool = sorted(
            (strong + areas) if strong else (areas or ev.candidates), key=lambda c: (-c.confidence, c.matched)
        )
        if not pool:
            return AddressMatch(status="unresolved", confidence=0.0, normalized=norm)
        best = pool[0]
        confidence = round(max(0.0, best.confidence - self._area_penalty(best, ev.areas)), 3)
        rivals = [
            c
            for c in pool[1:]
            if c.confidence >= best.confidence - 0.15
            and haversine_m(c.point, best.point) > self.conflict_m
            and not _contains(c, best)
        ]
        if confidence >= self.resolve_threshold and not rivals:
            return AddressMatch(
                status="resolved",
                confidence=confidence,
                point=best.point,
                grid=best.grid,
                matched=best.matched,
                precision=best.precision,
                fuzzy=best.fuzzy,
                normalized=norm,
                area=_area_ref(best.grid),
            )
        shown = tuple(c for c in self._distinct(pool) if c.confidence >= self.candidate_threshold)[:3]
        if not shown:
            return AddressMatch(status="unresolved", confidence=confidence, normalized=norm)
        return AddressMatch(
            status="ambiguous", confidence=min(confidence, shown[0].confidence), candidates=shown, normalized=norm
        )

    def _distinct(self, pool: list[AddressCandidate]) -> list[AddressCandidate]:
        seen: set[str] = set()
        out: list[AddressCandidate] = []
        for c in pool:
            if c.matched not in seen:
                seen.add(c.matched)
                out.append(c)
        return out
