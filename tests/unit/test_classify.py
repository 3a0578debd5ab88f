"""Complaint classifier: corpus files, categories and kinds on fixed examples, output shape, matters, quality floors
on the test split. Split: test_classify_split.py; emergencies: test_classify_emergency.py; auto-route thresholds:
test_classify_thresholds.py."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from services.intake.classify.corpus import SEED_FILES, corpus_files, load_all, load_corpus, split_key
from services.intake.classify.evaluate import evaluate
from services.intake.classify.model import CATEGORY_NAMES, Classifier
from services.intake.classify.schemas import KINDS, Classification
from services.intake.classify.service import classify, default_classifier
from shared.catalog import Catalog, Matter

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return default_classifier()


# ----------------------------------------------------------------------------- corpus files


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_every_corpus_file_is_valid(path: Path) -> None:
    rows = _rows(path)
    assert rows, path
    for r in rows:
        assert (
            {"text", "kind", "category", "emergency"} <= set(r) <= {"text", "kind", "category", "emergency", "channel"}
        )
        assert r["text"].strip()
        assert r["kind"] in KINDS
        assert r["category"] in CATEGORY_NAMES
        assert r["emergency"] in (None, "110", "119", "120", "122")
        # an emergency is a 紧急警情, and only emergencies are
        assert (r["emergency"] is not None) == (r["category"] == "JJ"), r
    assert len(load_corpus(path)) == len(rows)


def test_pooled_corpus_covers_every_label() -> None:
    rows = load_all()
    assert len(rows) >= 800
    per_cat = Counter(r.category for r in rows)
    assert set(per_cat) == set(CATEGORY_NAMES)
    assert min(per_cat.values()) >= 40
    assert {r.kind for r in rows} == set(KINDS)
    assert {r.emergency for r in rows} == {None, "110", "119", "120", "122"}


def test_tests_data_files_are_part_of_the_pool() -> None:
    """tests/data's two files are the seed rows (packaged under the classifier's data/)."""
    assert SEED_FILES[0].read_bytes() == (DATA / "complaints_labelled.jsonl").read_bytes()
    assert SEED_FILES[1].read_bytes() == (DATA / "complaints_heldout.jsonl").read_bytes()
    keys = {split_key(r.text) for r in load_all()}
    for name in ("complaints_labelled.jsonl", "complaints_heldout.jsonl"):
        assert all(split_key(r["text"]) in keys for r in _rows(DATA / name))


def test_bad_rows_are_refused_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"text": "路灯坏了", "kind": "投诉", "category": "SZ", "emergency": null}\n{"text": "x", "kind": "骂人"}\n'
    )
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_corpus(bad)


# ----------------------------------------------------------------------------- categories and kinds

FIXED = {
    "CG": ["小区门口天天有人摆地摊卖菜，占道经营，把人行道都堵了", "楼顶有人私自搭了个彩钢棚，违建越搭越大"],
    "SZ": ["我们这条街的路灯全坏了，晚上黑黢黢的", "人行道上的井盖莫得了，一个大洞，好危险"],
    "HB": ["工地晚上十一点还在施工打桩，噪音太大吵得没法睡觉", "河里的水发黑发臭，上游有厂在偷排污水"],
    "JT": ["出租车司机拒载还绕路，不打表", "这个路口的红绿灯坏了，车子乱开"],
    "SC": ["超市卖过期食品，找商家退货不给退", "办了健身卡，健身房老板卷款跑路了"],
    "ZF": ["小区电梯又坏了，物业不管不问，物业费倒是年年涨", "开发商交房三年了还办不下来房产证"],
    "RS": ["老板拖欠我们三个月工资不发，也不给交社保", "包工头欠农民工工资跑了，我们找不到人"],
    "MZ": ["家里老人八十多岁了，想问问高龄津贴怎么申请", "我们家是低保户，这个月低保金没到账"],
    "WJ": ["医院挂号难，医生态度差，还乱收检查费", "附近有个黑诊所给人输液，没有执业证"],
    "JY": ["孩子学校的老师搞有偿补课", "校外培训机构收了一年学费然后关门了"],
    "ZA": ["小区里有人聚众赌博，还有人搞传销拉人头", "我被电信诈骗了两万块，骗子让我刷单"],
    "XF": ["楼道里堆满杂物，消防通道被堵了", "有人在家里飞线给电动车充电，电线从窗户拉下来"],
    "JF": ["和邻居因为漏水的事吵起来了，想找社区调解一下", "兄弟几个为了老房子分家产闹翻了，请人调解"],
    "ZX": ["请问公积金提取的政策是怎样的", "想咨询一下居住证办理需要什么材料"],
    "JJ": ["快来人，楼下着火了，火很大有人被困在里面", "有人持刀在小区门口追人，快来"],
}


@pytest.mark.parametrize(("code", "n"), [(c, i) for c in FIXED for i in range(2)])
def test_fixed_example_is_classified_in_its_category(clf: Classifier, code: str, n: int) -> None:
    result = clf.classify(FIXED[code][n])
    assert result.category == code, (FIXED[code][n], result.categories)
    assert len(result.categories) == 3
    assert result.categories[0].name == CATEGORY_NAMES[code]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("请问社保断缴了怎么补交？", "咨询"),
        ("感谢城管队员，占道的烧烤摊已经清走了，点赞", "表扬"),
        ("建议在学校门口增加一个红绿灯", "建议"),
        ("我要举报，有工厂晚上偷排污水，请依法查处", "举报"),
        ("我要投诉，楼下餐馆油烟太大，物业也不管", "投诉"),
    ],
)
def test_kind_on_clear_examples(clf: Classifier, text: str, kind: str) -> None:
    assert clf.classify(text).kind == kind


def test_output_is_json_serialisable_pydantic(clf: Classifier) -> None:
    result = classify("小区垃圾没人清运，臭气熏天", channel="wechat")
    assert isinstance(result, Classification)
    data = json.loads(result.model_dump_json())
    assert data["channel"] == "wechat"
    assert {"kind", "kind_confidence", "categories", "matters", "emergency", "low_confidence", "auto_route"} <= set(
        data
    )
    assert Classification.model_validate(data) == result
    assert 0 <= result.kind_confidence <= 1
    confs = [c.confidence for c in result.categories]
    assert confs == sorted(confs, reverse=True)
    assert result.model_version == clf.version


def test_default_classifier_is_cached() -> None:
    assert default_classifier() is default_classifier()


@pytest.mark.parametrize("text", ["", "   ", "？？？", "a", "12345", "喂喂喂"])
def test_empty_or_meaningless_text_does_not_crash(clf: Classifier, text: str) -> None:
    result = clf.classify(text)
    assert result.kind in KINDS
    assert len(result.categories) == 3
    if not text.strip():
        assert result.low_confidence and not result.auto_route
        assert result.emergency is None


def test_very_long_text_does_not_crash(clf: Classifier) -> None:
    text = "楼下烧烤店油烟很大，晚上还很吵。" * 5000
    result = clf.classify(text)
    assert result.categories
    assert result.emergency is None


def test_full_width_text_is_normalised(clf: Classifier) -> None:
    assert (
        clf.classify("ＫＴＶ半夜噪音太大！！").categories[0].code
        == clf.classify("ktv半夜噪音太大!!").categories[0].code
    )


# ----------------------------------------------------------------------------- quality floors on the test split


@pytest.fixture(scope="module")
def scores(clf: Classifier) -> dict:
    return evaluate(classifier=clf)


def test_test_split_quality_floors(scores: dict) -> None:
    """Regression floors a little under issue #9's targets (``linkage eval`` shows the figures and targets)."""
    assert scores["n"] >= 150
    assert scores["category_macro_f1"] >= 0.85, scores["targets"]
    assert scores["kind_accuracy"] >= 0.80, scores["targets"]
    assert scores["auto_route_share"] >= 0.75, scores["targets"]
    assert scores["auto_route_precision"] >= 0.90, scores["targets"]
    assert scores["emergency_recall"] >= 0.95, scores["targets"]
    assert scores["emergency_precision"] >= 0.90, scores["targets"]
    assert set(scores["targets"]) >= {"category_macro_f1", "kind_accuracy", "auto_route_share", "emergency_recall"}
    assert len(scores["confusion"]["matrix"]) == len(CATEGORY_NAMES)
    assert sum(map(sum, scores["confusion"]["matrix"])) == scores["n"]


# ----------------------------------------------------------------------------- matters


def _matter(code: str, name: str, keywords: list[str], examples: list[str], service: str | None = None) -> dict:
    return {
        "code": code,
        "category": code[:2],
        "name": name,
        "keywords": keywords,
        "examples": examples,
        "lead": "属地",
        "assigning_body": "CENTER",
        "legal_basis": "测试",
        "grid_duty": ["发现上报"],
        "time_limits": {"咨询": 1, "求助": 5, "投诉": 5, "举报": 5, "建议": 5},
        "responsibility": "测试",
        "emergency_service": service,
        "knowledge_answer": "见政策文件" if code.startswith("ZX") else None,
    }


@pytest.fixture(scope="module")
def small(clf: Classifier) -> Classifier:
    raw = [
        _matter("CG001", "占道经营", ["占道", "摆摊", "流动摊贩", "夜市"], ["门口有人摆摊占道经营"]),
        _matter("CG002", "违法建设", ["违建", "私搭乱建", "搭建", "彩钢棚"], ["楼顶私自搭建彩钢棚"]),
        _matter("CG003", "垃圾清运", ["垃圾", "清运", "垃圾桶", "建筑垃圾"], ["垃圾桶满了没人清运"]),
        _matter("HB001", "施工噪音", ["施工", "噪音", "夜间施工", "打桩"], ["工地半夜施工噪音扰民"]),
        _matter("HB002", "餐饮油烟", ["油烟", "餐馆", "排烟"], ["楼下餐馆油烟扰民"]),
        _matter("JJ001", "火灾", ["着火", "起火", "火灾", "冒烟"], ["楼下着火了"], "119"),
        _matter("JJ002", "交通事故", ["车祸", "撞车", "被车撞"], ["路口发生车祸有人受伤"], "122"),
    ]
    catalog = Catalog(
        version="test",
        departments_version="test",
        district_code="000000",
        district_name="测试区",
        matters=[Matter.model_validate(m) for m in raw],
        departments=[],
    )
    return clf.with_catalog(catalog)


def test_matters_are_the_best_of_each_top_category(small: Classifier) -> None:
    result = small.classify("小区门口有人摆摊卖水果，占道经营，人行道都堵了")
    assert result.matters, result
    assert result.matters[0].code == "CG001"
    assert len(result.matters) <= 3
    # one matter per category, in the order of the categories
    cats = [m.category for m in result.matters]
    assert len(set(cats)) == len(cats)
    order = [c.code for c in result.categories]
    assert cats == [c for c in order if c in cats]

    assert small.classify("楼顶有人私自搭建彩钢棚，违建越搭越大").matters[0].code == "CG002"
    assert small.classify("工地半夜还在打桩施工，噪音吵得睡不着").matters[0].code == "HB001"


def test_emergency_matter_follows_the_service(small: Classifier) -> None:
    assert small.classify("快来人，仓库着火了，烟很大").matters[0].code == "JJ001"
    assert small.classify("我被车撞了，腿上流了很多血").matters[0].code == "JJ002"


def test_without_catalog_matters_are_empty(clf: Classifier) -> None:
    assert clf.with_catalog(None).classify("垃圾没人清运").matters == []
    assert clf.classify("垃圾没人清运").matters or not clf.matters  # the original keeps its catalog


def test_default_catalog_matters_if_shipped(clf: Classifier) -> None:
    if not clf.matters:
        pytest.skip("matter catalog not shipped yet")
    codes = {m.code for m in clf.matters}
    for examples in FIXED.values():
        result = clf.classify(examples[0])
        assert result.matters
        assert all(m.code in codes for m in result.matters)
        assert result.matters[0].category == result.category
