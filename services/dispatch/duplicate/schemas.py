"""Shapes of ``POST /api/v1/dispatch/duplicates/compare``: two reports in, the 并单 decision out."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.duplicates import Report

#: A time written without a zone is read as Beijing time (what a person in the district types).
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ReportIn(BaseModel):
    """One report: its words, where (address and/or a WGS-84 point) and when; the matter if it is known."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "text": "双林路66号门口那个井盖莫得了，晚上黑黢黢的",
                "address": "双林路66号",
                "lon": 104.1021,
                "lat": 30.6524,
                "time": "2025-03-04T20:15:00+08:00",
            }
        },
    )

    text: Text = Field(description="the complaint as written or summarised")
    address: str | None = Field(default=None, max_length=300)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    time: datetime | None = Field(default=None, description="when it was received; without a zone: Beijing time")
    matter_code: str | None = Field(default=None, pattern=r"^[A-Z]{2}[0-9]{3}$")
    category: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")

    @model_validator(mode="after")
    def _point_whole(self) -> ReportIn:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat go together: give both or neither")
        if self.matter_code and self.category and self.matter_code[:2] != self.category:
            raise ValueError(f"matter_code {self.matter_code} is not in category {self.category}")
        return self

    def to_report(self) -> Report:
        when = self.time
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=SHANGHAI)
        return Report(
            text=self.text,
            address=self.address.strip() or None if self.address else None,
            lon=self.lon,
            lat=self.lat,
            time=when,
            matter_code=self.matter_code,
            category=self.category,
        )


class CompareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: ReportIn
    b: ReportIn


class CompareOut(BaseModel):
    score: float = Field(description="0..1: 0.55·text + 0.20·matter + 0.15·place + 0.10·time")
    decision: Literal["merge", "suggest", "separate"]
    reasons: list[str] = Field(description="why, in Chinese: matter, distance, time gap, what the texts share")
    text_score: float = Field(description="0..1: how alike the two texts are in meaning")
    distance_m: float | None = Field(description="metres between the two points, when both have one")
    hours: float | None = Field(description="hours between the two times, when both have one")
    shared: list[str] = Field(description="what the two texts say alike (concepts, heaviest first)")
