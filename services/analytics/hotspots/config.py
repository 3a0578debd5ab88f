"""Hot-spot rule of 未诉先办, read once from the environment (``LINKAGE_HOTSPOT_*``).

A grid × category is hot when, in the ``recent_days`` ending today (Asia/Shanghai, today included), it has at
least ``min_count`` cases and its daily mean is at least ``factor`` times its own daily mean over the
``baseline_days`` before that window. One hot spot raises one alert (and one patrol task) per window: the same
grid × category is not raised again until ``recent_days`` have passed since its last alert.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HotspotSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINKAGE_HOTSPOT_", env_file=None, extra="ignore")

    recent_days: int = Field(default=7, ge=1, le=90, description="Days of the recent window (today included).")
    baseline_days: int = Field(default=28, ge=1, le=365, description="Days of the baseline before the window.")
    min_count: int = Field(default=5, ge=1, le=10_000, description="Fewest cases in the window to be hot.")
    factor: float = Field(default=2.0, ge=1.0, le=100.0, description="Window daily mean ≥ factor × baseline mean.")
    scan_interval_s: float = Field(default=60.0, gt=0, description="How often analytics looks for hot spots.")
    enabled: bool = Field(default=True, description="Scan in the background (POST …/scan works either way).")


@lru_cache
def hotspot_settings() -> HotspotSettings:
    return HotspotSettings()
