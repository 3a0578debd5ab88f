"""The matter catalog (事项目录): shipped data and the validating loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.catalog import (
    CATEGORY_NAMES,
    TERRITORIAL,
    Catalog,
    CatalogError,
    Department,
    Matter,
    default_catalog,
    load_catalog,
)
from shared.catalog.loader import DATA_DIR

pytestmark = pytest.mark.unit

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _yload(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506


def _ydump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False)


CATEGORY_CODES = ["CG", "SZ", "HB", "JT", "SC", "ZF", "RS", "MZ", "WJ", "JY", "ZA", "XF", "JF", "ZX", "JJ"]
STREETS = {"S01": "猛追湾街道", "S02": "府青路街道", "S03": "二仙桥街道", "S04": "双桥子街道", "S05": "万年场街道"}


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return load_catalog()


# ------------------------------------------------------------------ shipped data


def test_shipped_catalog_loads(cat: Catalog) -> None:
    assert cat.version == "2026.11"
    assert cat.district_code == "510108"
    assert len(cat.matters) >= 120
    assert all(isinstance(m, Matter) for m in cat.matters)
    assert all(isinstance(d, Department) for d in cat.departments)


def test_every_category_present(cat: Catalog) -> None:
    assert list(CATEGORY_NAMES) == CATEGORY_CODES
    assert cat.categories() == CATEGORY_NAMES
    for code in CATEGORY_NAMES:
        assert cat.by_category(code), f"no matter in category {code}"


def test_streets_are_fixed(cat: Catalog) -> None:
    assert {d.code: d.name for d in cat.streets()} == STREETS
    assert cat.center().code == "ZX"
    assert cat.department("ZX").name == "成华区大联动指挥中心"
    assert {d.code for d in cat.emergency_services()} == {"110", "119", "120", "122"}
    depts = [d for d in cat.departments if d.kind in ("department", "utility")]
    assert len(depts) >= 20


def test_every_referenced_department_exists(cat: Catalog) -> None:
    codes = {d.code for d in cat.departments}
    for m in cat.matters:
        for h in m.handlers():
            assert h == TERRITORIAL or h in codes, (m.code, h)
        assert m.assigning_body in codes, m.code


def test_matter_shape(cat: Catalog) -> None:
    for m in cat.matters:
        assert 5 <= len(m.keywords) <= 12, m.code
        assert 2 <= len(m.examples) <= 3, m.code
        assert m.code.startswith(m.category)
        assert m.responsibility
        assert m.sign_hours == (2 if m.urgency == "normal" else 0.5), m.code
        assert m.return_window_days == 2
        if m.category == "ZX":
            assert m.knowledge_answer, m.code


def test_emergencies_transfer(cat: Catalog) -> None:
    services = {m.emergency_service for m in cat.by_category("JJ")}
    assert services == {"110", "119", "120", "122"}
    for m in cat.by_category("JJ"):
        assert m.is_emergency and m.urgency == "emergency"
        assert cat.department(m.lead).kind == "emergency"
    names = {m.name for m in cat.by_category("JJ")}
    assert {"火灾", "正在发生的违法犯罪", "人员受伤和突发疾病", "交通事故有人员受伤"} <= names
    assert not any(m.is_emergency for m in cat.matters if m.category != "JJ")


def test_urgent_aid_is_five_working_days(cat: Catalog) -> None:
    [m] = [m for m in cat.matters if m.name == "个人急难救助"]
    assert m.category == "MZ"
    lim = m.limit_for("求助")
    assert lim.unit == "working_days" and lim.value == 5
    assert lim.working_days == 5 and lim.months is None
    assert str(lim) == "5个工作日"


def test_public_works_six_months(cat: Catalog) -> None:
    [m] = [m for m in cat.matters if m.name == "公共设施建设"]
    assert m.limit_months == 6
    for kind in ("求助", "投诉", "建议", "suggestion"):
        lim = m.limit_for(kind)
        assert (lim.unit, lim.months) == ("months", 6)
    assert m.limit_for("咨询").unit == "working_days"
    assert str(m.limit_for("建议")) == "6个月"


def test_default_limits_and_kinds(cat: Catalog) -> None:
    m = cat.matter("CG001")
    assert m.time_limits.as_dict() == {"咨询": 1, "求助": 5, "投诉": 5, "举报": 15, "建议": 15, "表扬": 5}
    assert m.limit_for("咨询").value == 1
    assert m.limit_for("complaint").value == 5
    with pytest.raises(KeyError):
        m.limit_for("吐槽")


def test_lookups_and_resolution(cat: Catalog) -> None:
    with pytest.raises(KeyError):
        cat.matter("CG999")
    assert cat.get_matter("CG999") is None
    with pytest.raises(KeyError):
        cat.department("NOPE")
    lead, co = cat.resolve_handlers("CG001", "S03")
    assert lead.code == "S03" and [d.code for d in co] == ["CGJ"]
    with pytest.raises(ValueError):
        cat.resolve_handlers("CG001", None)
    lead, co = cat.resolve_handlers(cat.matter("SZ002"), "S01")
    assert lead.code == "ZJJ" and "S01" in [d.code for d in co]
    assert cat.matter("CG001") in cat.matters_for_department("S05")
    assert cat.matter("CG001") in cat.matters_for_department("CGJ")


def test_find_department_and_match(cat: Catalog) -> None:
    assert cat.find_department("城管").code == "CGJ"  # type: ignore[union-attr]
    assert cat.find_department("猛追湾街道").code == "S01"  # type: ignore[union-attr]
    assert cat.find_department("GAFJ").code == "GAFJ"  # type: ignore[union-attr]
    assert cat.find_department("不存在的单位") is None
    best = cat.match("小区门口天天有流动摊贩摆摊卖菜")
    assert best and best[0][0].code == "CG001"
    assert cat.match("楼下着火了，浓烟很大")[0][0].emergency_service == "119"
    assert cat.match("") == []


def test_single_grid_duty_string_is_accepted(cat: Catalog) -> None:
    raw = cat.matter("CG001").model_dump(by_alias=True)
    raw["grid_duty"] = "核查"
    assert Matter.model_validate(raw).grid_duty == ["核查"]


def test_default_catalog_is_cached() -> None:
    default_catalog.cache_clear()
    assert default_catalog() is default_catalog()
    default_catalog.cache_clear()


def test_env_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for f in ("matters.yaml", "departments.yaml"):
        (tmp_path / f).write_text((DATA_DIR / f).read_text(encoding="utf-8"), encoding="utf-8")
    raw = _yload((tmp_path / "matters.yaml").read_text(encoding="utf-8"))
    raw["version"] = "2099.01"
    (tmp_path / "matters.yaml").write_text(_ydump(raw), encoding="utf-8")
    monkeypatch.setenv("LINKAGE_CATALOG_DIR", str(tmp_path))
    assert load_catalog().version == "2099.01"


# ------------------------------------------------------------------ broken files


def _raw_matters() -> dict:
    return _yload((DATA_DIR / "matters.yaml").read_text(encoding="utf-8"))


def _load_with(tmp_path: Path, matters: dict | str) -> Catalog:
    p = tmp_path / "matters.yaml"
    text = matters if isinstance(matters, str) else _ydump(matters)
    p.write_text(text, encoding="utf-8")
    return load_catalog(p, DATA_DIR / "departments.yaml")


def _entry(raw: dict, code: str) -> dict:
    return next(e for e in raw["matters"] if e["code"] == code)


def test_unknown_lead(tmp_path: Path) -> None:
    raw = _raw_matters()
    _entry(raw, "CG014")["lead"] = "XXJ"
    with pytest.raises(CatalogError) as ei:
        _load_with(tmp_path, raw)
    assert "matters.yaml: entry CG014 field lead: unknown department 'XXJ'" in str(ei.value)


def test_unknown_co_handler(tmp_path: Path) -> None:
    raw = _raw_matters()
    _entry(raw, "SZ002")["co_handlers"] = ["SWJ", "NOPE"]
    with pytest.raises(CatalogError) as ei:
        _load_with(tmp_path, raw)
    assert "entry SZ002 field co_handlers.1: unknown department 'NOPE'" in str(ei.value)


def test_unknown_category(tmp_path: Path) -> None:
    raw = _raw_matters()
    _entry(raw, "HB003")["category"] = "QQ"
    with pytest.raises(CatalogError) as ei:
        _load_with(tmp_path, raw)
    msg = str(ei.value)
    assert "entry HB003 field category: unknown category 'QQ'" in msg


def test_duplicate_code(tmp_path: Path) -> None:
    raw = _raw_matters()
    _entry(raw, "JT002")["code"] = "JT001"
    with pytest.raises(CatalogError) as ei:
        _load_with(tmp_path, raw)
    assert "entry JT001 field code: duplicate code 'JT001'" in str(ei.value)


def test_missing_limits(tmp_path: Path) -> None:
    raw = _raw_matters()
    del _entry(raw, "RS001")["time_limits"]["投诉"]
    del _entry(raw, "RS002")["time_limits"]
    with pytest.raises(CatalogError) as ei:
        _load_with(tmp_path, raw)
    msg = str(ei.value)
    assert "entry RS001 field time_limits.投诉: missing" in msg
    assert "entry RS002 field time_limits: missing" in msg
    assert len(ei.value.problems) == 2


def test_entry_without_code_is_named_by_index(tmp_path: Path) -> None:
    raw = _raw_matters()
    del raw["matters"][3]["code"]
    with pytest.raises(CatalogError) as ei:
        _load_with(tmp_path, raw)
    assert "matters.yaml: entry #3 field code: missing" in str(ei.value)


def test_jj_needs_service_and_zx_needs_answer(tmp_path: Path) -> None:
    raw = _raw_matters()
    del _entry(raw, "JJ001")["emergency_service"]
    del _entry(raw, "ZX001")["knowledge_answer"]
    _entry(raw, "CG001")["emergency_service"] = "110"
    with pytest.raises(CatalogError) as ei:
        _load_with(tmp_path, raw)
    msg = str(ei.value)
    assert "entry JJ001 field emergency_service:" in msg
    assert "entry ZX001 field knowledge_answer:" in msg
    assert "entry CG001 field emergency_service:" in msg


def test_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as ei:
        _load_with(tmp_path, 'version: "2026.11"\nmatters:\n  - code: CG001\n    name: [oops\n')
    assert str(ei.value).startswith("matters.yaml: invalid YAML at line")


def test_unquoted_version_and_missing_file(tmp_path: Path) -> None:
    raw = _raw_matters()
    raw["version"] = 2026.11
    with pytest.raises(CatalogError) as ei:
        _load_with(tmp_path, raw)
    assert "matters.yaml: field version" in str(ei.value)
    with pytest.raises(CatalogError) as ei:
        load_catalog(tmp_path / "nope.yaml", DATA_DIR / "departments.yaml")
    assert "nope.yaml: file not found" in str(ei.value)


def test_bad_department_file(tmp_path: Path) -> None:
    raw = _yload((DATA_DIR / "departments.yaml").read_text(encoding="utf-8"))
    raw["departments"].append({"code": "cgj", "name": "小写", "kind": "department"})
    raw["departments"].append({"code": "XXX", "name": "未知类型", "kind": "bureau"})
    p = tmp_path / "departments.yaml"
    p.write_text(_ydump(raw), encoding="utf-8")
    with pytest.raises(CatalogError) as ei:
        load_catalog(DATA_DIR / "matters.yaml", p)
    msg = str(ei.value)
    assert "departments.yaml: entry cgj field code: bad department code 'cgj'" in msg
    assert "departments.yaml: entry XXX field kind:" in msg
