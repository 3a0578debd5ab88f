"""Load and validate the matter catalog from YAML.

Every problem is reported as ``<file>: entry <code or #index> field <field>: <what is wrong>``, e.g.
``matters.yaml: entry CG014 field lead: unknown department 'XXJ'``. All problems of a file are
collected; :class:`CatalogError` carries them in ``problems`` and its message lists them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .models import TERRITORIAL, Catalog, Department, Matter

DATA_DIR = Path(__file__).resolve().parent / "data"
MATTERS_FILE = "matters.yaml"
DEPARTMENTS_FILE = "departments.yaml"
ENV_DIR = "LINKAGE_CATALOG_DIR"

T = TypeVar("T", bound=BaseModel)

_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CatalogError(ValueError):
    """The catalog files are missing, not YAML, or fail validation."""

    def __init__(self, problems: list[str], path: Path | None = None) -> None:
        self.problems = list(problems)
        self.path = path
        if len(self.problems) == 1:
            msg = self.problems[0]
        else:
            msg = f"{len(self.problems)} problems in the catalog:\n  " + "\n  ".join(self.problems)
        super().__init__(msg)


def _data_dir() -> Path:
    env = os.environ.get(ENV_DIR)
    return Path(env) if env else DATA_DIR


def _read_yaml(path: Path) -> dict[str, Any]:
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogError([f"{name}: file not found ({path})"], path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError([f"{name}: cannot read ({exc})"], path) from None
    try:
        data = yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a safe loader (libyaml when available)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1} column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise CatalogError([f"{name}: invalid YAML{where}: {problem}"], path) from None
    if not isinstance(data, dict):
        raise CatalogError([f"{name}: top level must be a mapping with 'version' and a list"], path)
    return data


def _version(data: dict[str, Any], name: str, problems: list[str]) -> str:
    v = data.get("version")
    if not isinstance(v, str) or not v.strip():
        problems.append(f'{name}: field version: must be a quoted string, e.g. version: "2026.11"')
        return ""
    return v


def _entry_id(raw: object, index: int) -> str:
    if isinstance(raw, dict):
        code = raw.get("code")
        if isinstance(code, str | int) and not isinstance(code, bool) and str(code).strip():
            return str(code)
    return f"#{index}"


def _describe(exc: ValidationError) -> list[tuple[str, str]]:
    """(field, message) for each pydantic error."""
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        msg = str(err.get("msg", "invalid"))
        msg = msg.removeprefix("Value error, ")
        loc = [str(p) for p in err.get("loc", ())]
        field = ".".join(loc)
        if not field:
            # model-level validator: message starts with "<field>: ..."
            head, sep, rest = msg.partition(": ")
            if sep and " " not in head:
                field, msg = head, rest
            else:
                field = "-"
        if err.get("type") == "missing":
            msg = "missing"
        elif err.get("type") == "extra_forbidden":
            msg = "unknown field"
        out.append((field, msg))
    return out


def _parse_list(data: dict[str, Any], key: str, model: type[T], name: str, problems: list[str]) -> list[T]:
    raw_list = data.get(key)
    if not isinstance(raw_list, list) or not raw_list:
        problems.append(f"{name}: field {key}: must be a non-empty list")
        return []
    out: list[T] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_list):
        ident = _entry_id(raw, index)
        if not isinstance(raw, dict):
            problems.append(f"{name}: entry {ident} field -: must be a mapping, got {type(raw).__name__}")
            continue
        try:
            item = model.model_validate(raw)
        except ValidationError as exc:
            for field, msg in _describe(exc):
                problems.append(f"{name}: entry {ident} field {field}: {msg}")
            continue
        code = str(getattr(item, "code"))  # noqa: B009 - both models have a code
        if code in seen:
            problems.append(f"{name}: entry {ident} field code: duplicate code {code!r} (also entry #{seen[code]})")
            continue
        seen[code] = index
        out.append(item)
    return out


def load_catalog(
    matters_path: str | os.PathLike[str] | None = None,
    departments_path: str | os.PathLike[str] | None = None,
) -> Catalog:
    """Load and validate the catalog.

    Defaults: ``matters.yaml`` and ``departments.yaml`` in ``$LINKAGE_CATALOG_DIR`` if set, else the
    files shipped in ``shared/catalog/data``. Raises :class:`CatalogError` listing every problem.
    """
    folder = _data_dir()
    mpath = Path(matters_path) if matters_path is not None else folder / MATTERS_FILE
    dpath = Path(departments_path) if departments_path is not None else folder / DEPARTMENTS_FILE

    problems: list[str] = []
    dname, mname = dpath.name, mpath.name

    ddata = _read_yaml(dpath)
    dversion = _version(ddata, dname, problems)
    district = ddata.get("district") or {}
    if not isinstance(district, dict) or not district.get("code") or not district.get("name"):
        problems.append(f"{dname}: field district: needs code and name (e.g. 510108 成都市成华区)")
        district = {}
    departments = _parse_list(ddata, "departments", Department, dname, problems)
    dept_codes = {d.code for d in departments}
    if departments and not any(d.kind == "center" for d in departments):
        problems.append(f"{dname}: field departments: no entry of kind center")
    for d in departments:
        if d.parent is not None and d.parent not in dept_codes:
            problems.append(f"{dname}: entry {d.code} field parent: unknown department {d.parent!r}")

    mdata = _read_yaml(mpath)
    mversion = _version(mdata, mname, problems)
    matters = _parse_list(mdata, "matters", Matter, mname, problems)

    known = dept_codes | {TERRITORIAL}
    for m in matters:
        if m.lead not in known:
            problems.append(f"{mname}: entry {m.code} field lead: unknown department {m.lead!r}")
        for i, c in enumerate(m.co_handlers):
            if c not in known:
                problems.append(f"{mname}: entry {m.code} field co_handlers.{i}: unknown department {c!r}")
        if len(set(m.co_handlers)) != len(m.co_handlers):
            problems.append(f"{mname}: entry {m.code} field co_handlers: listed twice")
        if m.assigning_body not in dept_codes:
            problems.append(f"{mname}: entry {m.code} field assigning_body: unknown department {m.assigning_body!r}")

    if problems:
        raise CatalogError(problems, mpath if any(p.startswith(mname) for p in problems) else dpath)
    return Catalog(
        version=mversion,
        departments_version=dversion,
        district_code=str(district["code"]),
        district_name=str(district["name"]),
        matters=matters,
        departments=departments,
    )


@functools.lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The shipped (or ``$LINKAGE_CATALOG_DIR``) catalog, loaded once. ``default_catalog.cache_clear()``
    forces a reload."""
    return load_catalog()
