"""Parsing of the calendar YAML files (``shared/calendar/data/cn_calendar.yaml`` and the
optional admin file named by ``LINKAGE_CALENDAR_FILE``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

DataStatus = Literal["official", "provisional"]
MergeMode = Literal["replace", "merge"]

PACKAGED_DATA_FILE = Path(__file__).resolve().parent / "data" / "cn_calendar.yaml"
ENV_CALENDAR_FILE = "LINKAGE_CALENDAR_FILE"


class CalendarDataError(ValueError):
    """A calendar data file is malformed."""


@dataclass(frozen=True)
class YearSpec:
    """One year's entry in a calendar data file."""

    year: int
    status: DataStatus
    source: str
    mode: MergeMode = "replace"
    holidays: Mapping[dt.date, str] = field(default_factory=dict)
    workdays: Mapping[dt.date, str] = field(default_factory=dict)


def _parse_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise CalendarDataError(f"{where}: invalid date {value!r}") from exc
    raise CalendarDataError(f"{where}: expected a date, got {value!r}")


def _expand(start: dt.date, end: dt.date, where: str) -> list[dt.date]:
    if end < start:
        raise CalendarDataError(f"{where}: range ends before it starts ({start}..{end})")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _parse_items(items: Any, year: int, default_name: str, where: str) -> dict[dt.date, str]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise CalendarDataError(f"{where}: expected a list")
    out: dict[dt.date, str] = {}
    for i, item in enumerate(items):
        here = f"{where}[{i}]"
        name = default_name
        if isinstance(item, Mapping):
            unknown = set(item) - {"start", "end", "name", "date"}
            if unknown:
                raise CalendarDataError(f"{here}: unknown keys {sorted(unknown)}")
            start_raw = item.get("start", item.get("date"))
            if start_raw is None:
                raise CalendarDataError(f"{here}: missing 'start'")
            start = _parse_date(start_raw, here)
            end = _parse_date(item["end"], here) if item.get("end") is not None else start
            name = str(item.get("name") or default_name)
        elif isinstance(item, str) and ".." in item:
            left, _, right = item.partition("..")
            start, end = _parse_date(left, here), _parse_date(right, here)
        else:
            start = end = _parse_date(item, here)
        for day in _expand(start, end, here):
            if day.year != year:
                raise CalendarDataError(f"{here}: {day} is not in year {year}")
            out[day] = name
    return out


def parse_year(year: int, raw: Any, where: str) -> YearSpec:
    if not isinstance(raw, Mapping):
        raise CalendarDataError(f"{where}: expected a mapping")
    unknown = set(raw) - {"status", "source", "mode", "holidays", "workdays"}
    if unknown:
        raise CalendarDataError(f"{where}: unknown keys {sorted(unknown)}")
    status = raw.get("status", "provisional")
    if status not in ("official", "provisional"):
        raise CalendarDataError(f"{where}: status must be official or provisional, got {status!r}")
    mode = raw.get("mode", "replace")
    if mode not in ("replace", "merge"):
        raise CalendarDataError(f"{where}: mode must be replace or merge, got {mode!r}")
    holidays = _parse_items(raw.get("holidays"), year, "法定节假日", f"{where}.holidays")
    workdays = _parse_items(raw.get("workdays"), year, "调休上班", f"{where}.workdays")
    both = sorted(set(holidays) & set(workdays))
    if both:
        raise CalendarDataError(f"{where}: dates listed as both holiday and workday: {both}")
    return YearSpec(
        year=year,
        status=status,
        source=str(raw.get("source") or "").strip() or "(no source given)",
        mode=mode,
        holidays=holidays,
        workdays=workdays,
    )


def load_data_file(path: str | Path) -> dict[int, YearSpec]:
    """Parse one calendar YAML file into ``{year: YearSpec}``.

    Raises ``CalendarDataError`` (also for a missing/unreadable file)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalendarDataError(f"{p}: cannot read calendar file: {exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: e.g. 2027-02-30
        raise CalendarDataError(f"{p}: invalid YAML: {exc}") from exc
    if doc is None:
        return {}
    if not isinstance(doc, Mapping) or not isinstance(doc.get("years", {}), Mapping):
        raise CalendarDataError(f"{p}: expected a mapping with a 'years' mapping")
    out: dict[int, YearSpec] = {}
    for key, raw in (doc.get("years") or {}).items():
        try:
            year = int(key)
        except (TypeError, ValueError) as exc:
            raise CalendarDataError(f"{p}: year key {key!r} is not an integer") from exc
        out[year] = parse_year(year, raw, f"{p}: years.{year}")
    return out


def merge_specs(layers: Iterable[Mapping[int, YearSpec]]) -> dict[int, list[YearSpec]]:
    """Stack the per-year entries of several files, later files on top."""
    out: dict[int, list[YearSpec]] = {}
    for layer in layers:
        for year, spec in layer.items():
            if spec.mode == "replace":
                out[year] = [spec]
            else:
                out.setdefault(year, []).append(spec)
    return out
