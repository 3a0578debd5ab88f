"""Pydantic models of the matter catalog (事项目录).

The catalog is data (``shared/catalog/data/*.yaml``); these models describe and validate one entry
each. Cross-entry checks (duplicate codes, unknown departments) live in :mod:`shared.catalog.loader`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

CATEGORY_NAMES: dict[str, str] = {
    "CG": "城市管理",
    "SZ": "市政设施",
    "HB": "生态环境",
    "JT": "交通出行",
    "SC": "市场监管",
    "ZF": "住房物业",
    "RS": "劳动社保",
    "MZ": "民政救助",
    "WJ": "卫生健康",
    "JY": "教育",
    "ZA": "社会治安",
    "XF": "消防安全",
    "JF": "矛盾纠纷",
    "ZX": "政策咨询",
    "JJ": "紧急警情",
}
"""The 15 top categories (大类): code -> Chinese name, in display order."""

TERRITORIAL = "属地"
"""Literal used in ``lead`` / ``co_handlers``: the street that owns the grid of the case."""

GRID_DUTIES: tuple[str, ...] = ("发现上报", "劝导", "协助", "核查")
EMERGENCY_SERVICES: tuple[str, ...] = ("110", "119", "120", "122")

# Kinds of 诉求 that carry a time limit. Keys accepted by ``limit_for`` (Chinese or English).
KIND_FIELDS: dict[str, str] = {
    "咨询": "consult",
    "求助": "help",
    "投诉": "complaint",
    "举报": "report",
    "建议": "suggestion",
    "表扬": "praise",
}
_KIND_LOOKUP: dict[str, str] = {**KIND_FIELDS, **{v: v for v in KIND_FIELDS.values()}}

Urgency = Literal["normal", "urgent", "emergency"]
DepartmentKind = Literal["department", "street", "center", "utility", "emergency"]
GridDuty = Literal["发现上报", "劝导", "协助", "核查"]
EmergencyService = Literal["110", "119", "120", "122"]
TimeUnit = Literal["working_days", "months"]

_DEPT_CODE = re.compile(r"^[A-Z0-9]{2,10}$")
_MATTER_CODE = re.compile(r"^([A-Z]{2})(\d{3})$")


def _as_list(value: object) -> object:
    """Allow a single string where a list is expected (``grid_duty: 发现上报``)."""
    if isinstance(value, str):
        return [value]
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class TimeLimit(_Frozen):
    """One time limit: ``value`` working days, or ``value`` calendar months (public works)."""

    value: float = Field(gt=0)
    unit: TimeUnit = "working_days"

    @property
    def working_days(self) -> float | None:
        return self.value if self.unit == "working_days" else None

    @property
    def months(self) -> int | None:
        return int(self.value) if self.unit == "months" else None

    def __str__(self) -> str:
        v = int(self.value) if float(self.value).is_integer() else self.value
        return f"{v}个工作日" if self.unit == "working_days" else f"{v}个月"


class TimeLimits(_Frozen):
    """Handling limit per kind of 诉求, in working days. YAML keys are the Chinese kind names."""

    consult: float = Field(alias="咨询", gt=0)
    help: float = Field(alias="求助", gt=0)
    complaint: float = Field(alias="投诉", gt=0)
    report: float = Field(alias="举报", gt=0)
    suggestion: float = Field(alias="建议", gt=0)
    praise: float = Field(default=5, alias="表扬", gt=0)

    def get(self, kind: str) -> float:
        """Working days for ``kind`` (咨询/求助/投诉/举报/建议/表扬 or consult/help/...)."""
        field = _KIND_LOOKUP.get(kind)
        if field is None:
            raise KeyError(f"unknown kind of 诉求 {kind!r}; expected one of {', '.join(KIND_FIELDS)}")
        return float(getattr(self, field))

    def as_dict(self) -> dict[str, float]:
        """Chinese kind -> working days."""
        return {zh: float(getattr(self, en)) for zh, en in KIND_FIELDS.items()}


class Department(_Frozen):
    """An organisation that can receive cases: department, street office, center, utility, 110/119/..."""

    code: str
    name: str = Field(min_length=1)
    kind: DepartmentKind
    aliases: list[str] = Field(default_factory=list)
    """Other names callers and operators use (城管, 住建, 交警 ...)."""
    parent: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, v: object) -> object:
        if isinstance(v, int) and not isinstance(v, bool):
            v = str(v)
        if isinstance(v, str) and not _DEPT_CODE.match(v):
            raise ValueError(f"bad department code {v!r}: expected 2-10 characters A-Z/0-9")
        return v

    @property
    def is_street(self) -> bool:
        return self.kind == "street"


class Matter(_Frozen):
    """One matter (事项) of the catalog."""

    code: str
    category: str
    name: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=3, max_length=15)
    examples: list[str] = Field(min_length=1, max_length=5)
    lead: str
    co_handlers: list[str] = Field(default_factory=list)
    assigning_body: str
    legal_basis: str = Field(min_length=1)
    grid_duty: list[GridDuty] = Field(min_length=1)
    urgency: Urgency = "normal"
    time_limits: TimeLimits
    limit_months: int | None = Field(default=None, gt=0)
    sign_hours: float = Field(default=2, gt=0)
    return_window_days: float = Field(default=2, ge=0)
    responsibility: str = Field(min_length=1)
    emergency_service: EmergencyService | None = None
    knowledge_answer: str | None = None
    generic: bool = False
    """A catch-all (e.g. 政务服务办事指南): chosen only when no specific matter matches."""

    _strip_list = field_validator("grid_duty", "co_handlers", mode="before")(_as_list)

    @field_validator("category")
    @classmethod
    def _category(cls, v: str) -> str:
        if v not in CATEGORY_NAMES:
            raise ValueError(f"unknown category {v!r}; expected one of {', '.join(CATEGORY_NAMES)}")
        return v

    @field_validator("keywords", "examples")
    @classmethod
    def _non_blank(cls, v: list[str]) -> list[str]:
        if any(not s.strip() for s in v):
            raise ValueError("blank entry")
        if len(set(v)) != len(v):
            raise ValueError("duplicate entry")
        return v

    @field_validator("emergency_service", mode="before")
    @classmethod
    def _service(cls, v: object) -> object:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Matter:
        m = _MATTER_CODE.match(self.code)
        if not m:
            raise ValueError(f"code: bad matter code {self.code!r}: expected category + 3 digits, e.g. CG001")
        if m.group(1) != self.category:
            raise ValueError(f"code: code {self.code!r} does not start with its category {self.category!r}")
        if self.category == "JJ" and self.emergency_service is None:
            raise ValueError("emergency_service: JJ matters must name 110, 119, 120 or 122")
        if self.category != "JJ" and self.emergency_service is not None:
            raise ValueError("emergency_service: only JJ matters are transferred to an emergency service")
        if self.category == "ZX" and not (self.knowledge_answer or "").strip():
            raise ValueError("knowledge_answer: ZX matters need a knowledge-base answer")
        if self.lead in self.co_handlers:
            raise ValueError(f"co_handlers: lead {self.lead!r} is also listed as co-handler")
        return self

    # ----------------------------------------------------------------- helpers

    @property
    def category_name(self) -> str:
        return CATEGORY_NAMES[self.category]

    @property
    def is_emergency(self) -> bool:
        """True for matters that are transferred to 110/119/120/122 instead of dispatched."""
        return self.emergency_service is not None

    @property
    def lead_is_territorial(self) -> bool:
        return self.lead == TERRITORIAL

    def limit_for(self, kind: str) -> TimeLimit:
        """The handling limit for one kind of 诉求.

        Working days from ``time_limits``; for public works (``limit_months`` set) every kind except
        咨询 gets ``limit_months`` calendar months (a question about the works is still answered in the
        咨询 limit). Raises ``KeyError`` for an unknown kind.
        """
        days = self.time_limits.get(kind)
        if self.limit_months is not None and _KIND_LOOKUP[kind] != "consult":
            return TimeLimit(value=self.limit_months, unit="months")
        return TimeLimit(value=days, unit="working_days")

    def handlers(self) -> list[str]:
        """Lead then co-handlers, as written (may contain 属地)."""
        return [self.lead, *self.co_handlers]


class Catalog(_Frozen):
    """The loaded, cross-checked catalog. Build it with :func:`shared.catalog.load_catalog`."""

    version: str
    departments_version: str
    district_code: str
    district_name: str
    matters: list[Matter]
    departments: list[Department]

    _matters_by_code: dict[str, Matter] = PrivateAttr(default_factory=dict)
    _depts_by_code: dict[str, Department] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._matters_by_code = {m.code: m for m in self.matters}
        self._depts_by_code = {d.code: d for d in self.departments}

    def matter(self, code: str) -> Matter:
        """The matter with this code; ``KeyError`` if none."""
        try:
            return self._matters_by_code[code]
        except KeyError:
            raise KeyError(f"unknown matter {code!r} in catalog {self.version}") from None

    def get_matter(self, code: str) -> Matter | None:
        return self._matters_by_code.get(code)

    def department(self, code: str) -> Department:
        """The department (or street, center, utility, emergency service) with this code."""
        try:
            return self._depts_by_code[code]
        except KeyError:
            raise KeyError(f"unknown department {code!r}") from None

    def get_department(self, code: str) -> Department | None:
        return self._depts_by_code.get(code)

    def by_category(self, category: str) -> list[Matter]:
        return [m for m in self.matters if m.category == category]

    def categories(self) -> dict[str, str]:
        """Code -> Chinese name for the 15 categories."""
        return dict(CATEGORY_NAMES)

    def streets(self) -> list[Department]:
        return [d for d in self.departments if d.kind == "street"]

    def emergency_services(self) -> list[Department]:
        return [d for d in self.departments if d.kind == "emergency"]

    def center(self) -> Department:
        """The command center (大联动指挥中心)."""
        for d in self.departments:
            if d.kind == "center":
                return d
        raise KeyError("no center in catalog")

    def resolve(self, code: str, street: str | None) -> Department:
        """A handler code from a matter, with 属地 replaced by ``street`` (a street code, e.g. S03)."""
        if code == TERRITORIAL:
            if street is None:
                raise ValueError("属地 handler needs the street that owns the grid")
            dept = self.department(street)
            if dept.kind != "street":
                raise ValueError(f"{street!r} is not a street")
            return dept
        return self.department(code)

    def resolve_handlers(self, matter: Matter | str, street: str | None) -> tuple[Department, list[Department]]:
        """(lead, co-handlers) as departments, 属地 resolved to ``street``; duplicates dropped."""
        m = self.matter(matter) if isinstance(matter, str) else matter
        lead = self.resolve(m.lead, street)
        seen = {lead.code}
        co: list[Department] = []
        for c in m.co_handlers:
            d = self.resolve(c, street)
            if d.code not in seen:
                seen.add(d.code)
                co.append(d)
        return lead, co

    def find_department(self, name: str) -> Department | None:
        """A department by code, exact name or alias (城管, 住建, 交警 ...); ``None`` if unknown."""
        name = name.strip()
        if name in self._depts_by_code:
            return self._depts_by_code[name]
        for d in self.departments:
            if name == d.name or name in d.aliases:
                return d
        return None

    def match(self, text: str, limit: int = 5) -> list[tuple[Matter, float]]:
        """Naive keyword match: matters whose name or keywords occur in ``text``, best first.

        Score = sum of the lengths of the matched keywords (longer phrases are more specific), plus
        the name. A baseline for operators' suggestions, not the classifier.
        """
        scored: list[tuple[Matter, float]] = []
        for m in self.matters:
            score = float(sum(len(k) for k in m.keywords if k in text))
            if m.name in text:
                score += len(m.name)
            if score:
                scored.append((m, score))
        scored.sort(key=lambda ms: (-ms[1], ms[0].code))
        return scored[:limit]

    def matters_for_department(self, code: str) -> list[Matter]:
        """Matters where ``code`` (or 属地 for a street code) is lead or co-handler."""
        dept = self.department(code)
        keys: Iterable[str] = (code, TERRITORIAL) if dept.kind == "street" else (code,)
        ks = set(keys)
        return [m for m in self.matters if ks.intersection(m.handlers())]
