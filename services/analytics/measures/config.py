"""Weights and thresholds of the measures (``config.yaml`` next to this file, overridden by
``LINKAGE_MEASURES_CONFIG``). Read once per process; :func:`load_config` reads any file (tests, the CLI)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.settings import get_settings

DEFAULT_FILE = Path(__file__).with_name("config.yaml")
PeriodKind = Literal["day", "week", "month", "custom"]
SURVEY_RESULTS = ("满意", "基本满意", "不满意", "未评价")
RANKED_FIGURES = (
    "response_rate",
    "solve_rate",
    "satisfaction_rate",
    "on_time_rate",
    "sign_rate_24h",
    "one_time_rate",
    "return_rate",
    "reopen_rate",
    "review",
)
"""Figures the composite score may weigh (``return_rate`` and ``reopen_rate`` enter as 1 - rate)."""
INVERTED = frozenset({"return_rate", "reopen_rate"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RedRule(_Model):
    top: int | None = Field(default=None, ge=0)
    min_score: float | None = Field(default=None, ge=0, le=100)


class BlackRule(_Model):
    bottom: int | None = Field(default=None, ge=0)
    below: float | None = Field(default=None, ge=0, le=100)


class ListRule(_Model):
    min_volume: int = Field(default=1, ge=0)
    red: RedRule = RedRule()
    black: BlackRule = BlackRule()


class RankingConfig(_Model):
    kinds: tuple[str, ...] = ("department", "utility")
    weights: dict[str, float]

    @field_validator("weights")
    @classmethod
    def _known(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(RANKED_FIGURES))
        if unknown:
            raise ValueError(f"unknown ranking figure(s): {', '.join(unknown)}; known: {', '.join(RANKED_FIGURES)}")
        if any(w < 0 for w in v.values()):
            raise ValueError("ranking weights must not be negative")
        if not any(w > 0 for w in v.values()):
            raise ValueError("at least one ranking weight must be positive")
        return v


class ReviewConfig(_Model):
    scale: dict[int, str]
    months_back: int = Field(default=12, ge=0, le=120)

    @field_validator("scale")
    @classmethod
    def _one_to_five(cls, v: dict[int, str]) -> dict[int, str]:
        if sorted(v) != [1, 2, 3, 4, 5]:
            raise ValueError("the review scale has the scores 1 to 5")
        return v


class MeasuresConfig(_Model):
    version: str = ""
    satisfaction: dict[str, float | None]
    solved_results: tuple[str, ...]
    sign_window_hours: float = Field(default=24, gt=0, le=24 * 30)
    response_fallback_hours: float = Field(default=2, gt=0, le=24 * 30)
    ranking: RankingConfig
    lists: dict[PeriodKind, ListRule]
    reviews: ReviewConfig

    @field_validator("satisfaction")
    @classmethod
    def _results(cls, v: dict[str, float | None]) -> dict[str, float | None]:
        unknown = sorted(set(v) - set(SURVEY_RESULTS))
        if unknown:
            raise ValueError(f"unknown survey result(s): {', '.join(unknown)}")
        for result, weight in v.items():
            if weight is not None and not 0 <= weight <= 1:
                raise ValueError(f"the weight of {result} must be between 0 and 1")
        return v

    @model_validator(mode="after")
    def _every_period(self) -> MeasuresConfig:
        missing = [k for k in ("day", "week", "month", "custom") if k not in self.lists]
        if missing:
            raise ValueError(f"lists: missing period kind(s) {', '.join(missing)}")
        return self

    def satisfaction_weight(self, result: str) -> float | None:
        """What one answer counts for in 满意率 (``None``: not counted at all)."""
        return self.satisfaction.get(result)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in ("weights", "satisfaction"):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def load_config(path: Path | None = None) -> MeasuresConfig:
    """The shipped configuration, with ``path`` (if any) merged over it key by key (``weights`` and
    ``satisfaction`` are replaced whole, so a figure can be dropped)."""
    data = _read(DEFAULT_FILE)
    if path is not None:
        data = _merge(data, _read(Path(path)))
    return MeasuresConfig.model_validate(data)


@functools.cache
def default_config() -> MeasuresConfig:
    return load_config(get_settings().measures_config)
