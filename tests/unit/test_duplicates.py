"""并单 decision (shared.duplicates): paraphrases across registers merge; the same spot with another problem, the same
problem far away, another house number of the street, an old report stay apart; reasons in Chinese; the figures."""

from __future__ import annotations

import datetime as dt

import pytest

from services.dispatch.duplicate.evaluate import evaluate_duplicates, labelled_pairs, load_groups
from shared.duplicates import Report, compare, concept_ids, text_similarity
from shared.duplicates.text import address_variants, label, strip_places

T0 = dt.datetime(2025, 3, 4, 12, 0, tzinfo=dt.UTC)
LON, LAT = 104.1021, 30.6524
M_PER_DEG_LON = 111_320 * 0.8607  # cos(30.65°)


def at(east_m: float = 0.0, north_m: float = 0.0) -> dict[str, float]:
    return {"lon": LON + east_m / M_PER_DEG_LON, "lat": LAT + north_m / 111_320}


def report(text: str, *, hours: float = 0.0, east: float = 0.0, north: float = 0.0, **kw: object) -> Report:
    values: dict[str, object] = {"address": "双林路66号", "time": T0 + dt.timedelta(hours=hours), **at(east, north)}
    values.update(kw)
    return Report(text=text, **values)  # type: ignore[arg-type]


CITIZEN = "双林路66号门口那个井盖莫得了，晚上黑黢黢的，娃儿差点踩进去"
OPERATOR = "市民来电反映：成华区双林路66号附近人行道一处井盖缺失，存在安全隐患，要求尽快补装。"
GRID = "网格员巡查发现：双林路66号门前检查井井盖丢失，已设置锥桶警示。"


@pytest.mark.parametrize(("a", "b"), [(CITIZEN, OPERATOR), (CITIZEN, GRID), (OPERATOR, GRID)])
def test_paraphrases_in_three_registers_merge_with_and_without_matter(a: str, b: str) -> None:
    for matter in ("SZ002", None):
        result = compare(report(a, matter_code=matter), report(b, hours=5, east=62, matter_code=matter))
        assert result.decision == "merge", result.reasons
        assert result.score >= 0.6 and result.text_score >= 0.4


def test_reasons_name_the_matter_distance_gap_and_shared_words() -> None:
    result = compare(
        report(CITIZEN, matter_code="SZ002"), report(OPERATOR, hours=5, east=62, matter_code="SZ002", address=None)
    )
    assert result.reasons[0] == "事项相同（SZ002 井盖缺失破损）"
    assert result.reasons[1] == "相距 62 米"
    assert result.reasons[2] == "间隔 5 小时"
    assert result.reasons[3].startswith("描述相近：井盖、缺失")
    assert result.distance_m == pytest.approx(62, abs=1) and result.hours == 5


def test_streetlight_paraphrases_merge() -> None:
    a = report("双林路66号这一段路灯一个星期都没亮过，晚上黑灯瞎火的")
    b = report("来电人称双林路66号附近路段路灯夜间不亮，影响居民出行，要求修复。", hours=26, north=80)
    c = report("网格员巡查发现：双林路66号处连续3盏路灯损坏不亮，已拍照上报。", hours=40, east=-50)
    d = report("那边灯又不亮了 黑黢黢的", hours=30, east=30, address="双林路")
    for x, y in ((a, b), (a, c), (b, c), (a, d), (c, d)):
        assert compare(x, y).decision == "merge", compare(x, y).reasons


def test_same_spot_another_problem_stays_apart() -> None:
    manhole = report(CITIZEN, matter_code="SZ002")
    light = report("双林路66号门口的路灯不亮好几天了，晚上黑黢黢的", hours=3, east=20, matter_code="SZ003")
    for with_matter in (True, False):
        a = manhole if with_matter else report(CITIZEN)
        b = light if with_matter else report(light.text, hours=3, east=20)
        result = compare(a, b)
        assert result.decision == "separate", result.reasons
    assert "描述的对象不同：井盖 / 路灯" in compare(report(CITIZEN), report(light.text, hours=3)).reasons


def test_same_setting_different_problem_stays_apart() -> None:
    water = report("二仙桥西路20号小区自来水黄黄的，还有股铁锈味", address="二仙桥西路20号")
    outage = report("二仙桥西路20号小区又停水了", hours=30, east=40, address="二仙桥西路20号")
    assert compare(water, outage).decision != "merge"
    roof = report("八里桥路80号楼顶防水层坏了，顶楼下雨就漏水", address="八里桥路80号")
    station = report("八里桥路80号楼顶新装了个信号基站，担心辐射", hours=10, address="八里桥路80号")
    assert compare(roof, station).decision != "merge"


def test_same_problem_far_away_or_long_ago_stays_apart() -> None:
    far = compare(report(CITIZEN), report("杉板桥路120号附近人行道上有个井盖不见了", hours=2, east=1300))
    assert far.decision == "separate" and "公里" in far.reasons[1] and "超出 200 米" in far.reasons[1]
    old = compare(report(CITIZEN), report(OPERATOR, hours=24 * 9, east=30))
    assert old.decision == "separate" and old.reasons[2] == "间隔 9 天，超过 7 天"


def test_same_street_other_number_without_coordinates() -> None:
    a = Report(text="双林路66号井盖缺失", address="双林路66号", time=T0)
    b = Report(text="双林路210号井盖缺失", address="双林路210号", time=T0)
    c = Report(text="市民反映双林路66号附近井盖丢了", address="成华区双林路66号附近", time=T0)
    assert compare(a, b).decision == "separate"
    assert "门牌相差较远" in compare(a, b).reasons[1]
    assert compare(a, c).decision == "merge"


def test_other_category_needs_nearly_the_same_words() -> None:
    a = report(CITIZEN, category="SZ")
    b = report("双林路66号门口有人摆摊卖菜，把人行道占完了", hours=1, category="CG")
    result = compare(a, b)
    assert result.decision == "separate" and result.reasons[0].startswith("类别不同")


def test_words_not_characters() -> None:
    # no character in common between 莫得了 and 缺失, yet one concept; the address and boilerplate are not the meaning
    assert {"manhole", "missing"} <= set(concept_ids("井盖莫得了")) == set(concept_ids("窨井盖缺失"))
    assert "missing" not in concept_ids("垃圾桶满了三天都莫得人来收")  # 莫得人 (nobody) is not 缺失
    assert concept_ids("市民来电反映：要求相关部门尽快处理。已设置锥桶。") == []
    assert [label(c) for c in concept_ids("双林路66号门口 路灯不亮", ["双林路66号"])] == ["路灯", "不亮"]
    assert text_similarity("小区楼下烧烤油烟太大，熏得没法开窗", "井盖莫得了").score < 0.1


def test_places_are_cut_out_of_the_text() -> None:
    assert "双林路" not in strip_places("成华区双林路66号附近井盖缺失", ["双林路66号"])
    assert "66" not in strip_places("建设路66号3栋2单元楼道堆满杂物")
    assert "双林路66号" in address_variants("成华区双林路66号附近")
    assert "双林路" in address_variants("成华区双林路66号附近")


def test_bad_times_and_missing_parts_do_not_break() -> None:
    naive_and_aware = compare(Report(text="井盖缺失", time=dt.datetime(2025, 3, 4)), Report(text="井盖丢了", time=T0))
    assert naive_and_aware.hours is not None
    bare = compare(Report(text="。。。"), Report(text="!!!"))
    assert bare.decision == "separate" and bare.text_score == 0.0
    assert "缺少坐标和地址" in bare.reasons[1]


def test_labelled_groups_are_valid_and_split() -> None:
    groups = load_groups(split="all")
    assert len(groups) >= 60
    assert {g["split"] for g in groups} == {"dev", "test"}
    assert len([g for g in groups if g["split"] == "test"]) >= 30
    kinds = {n["kind"] for g in groups for n in g["negatives"]}
    assert kinds == {"same_spot", "same_street", "far"}
    for g in groups:
        assert 2 <= len(g["reports"]) <= 4
    pairs = list(labelled_pairs(groups))
    assert sum(1 for *_, same in pairs if same) >= 150


def test_held_out_figures_meet_the_targets() -> None:
    figures = evaluate_duplicates()
    assert figures["split"] == "test" and figures["positive_pairs"] >= 60
    assert figures["precision"] >= 0.9 and figures["recall"] >= 0.9, figures
    assert figures["merged_negative_by_kind"]["far"] == 0
    text_only = figures["text_only"]
    assert text_only["precision"] >= 0.9 and text_only["recall"] >= 0.9, text_only
