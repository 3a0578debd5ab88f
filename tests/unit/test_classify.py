"""Complaint classifier: corpora, category/kind model, emergency rules, held-out quality."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from services.intake.classify.emergency import detect_emergency
from services.intake.classify.evaluate import evaluate
from services.intake.classify.model import CATEGORY_NAMES, TRAIN_PATH, Classifier, load_corpus
from services.intake.classify.schemas import KINDS, Classification
from services.intake.classify.service import classify, default_classifier
from shared.catalog import Catalog, Matter

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parents[1] / "data"
LABELLED = DATA / "complaints_labelled.jsonl"
HELDOUT = DATA / "complaints_heldout.jsonl"


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return default_classifier()


@pytest.fixture(scope="module")
def scores(clf: Classifier) -> dict:
    return evaluate(HELDOUT, clf)


# ----------------------------------------------------------------------------- corpora


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_corpus_sizes_and_labels() -> None:
    train, held = _rows(LABELLED), _rows(HELDOUT)
    assert len(train) >= 600
    assert len(held) >= 150
    for rows in (train, held):
        for r in rows:
            assert set(r) == {"text", "kind", "category", "emergency"}
            assert r["text"].strip()
            assert r["kind"] in KINDS
            assert r["category"] in CATEGORY_NAMES
            assert r["emergency"] in (None, "110", "119", "120", "122")
            # an emergency is a 紧急警情, and only emergencies are
            assert (r["emergency"] is not None) == (r["category"] == "JJ")
    per_cat = Counter(r["category"] for r in train)
    assert set(per_cat) == set(CATEGORY_NAMES)
    assert min(per_cat.values()) >= 25
    assert set(Counter(r["category"] for r in held)) == set(CATEGORY_NAMES)
    assert set(r["kind"] for r in train) == set(KINDS)
    assert set(r["kind"] for r in held) == set(KINDS)
    assert {r["emergency"] for r in train} == {None, "110", "119", "120", "122"}
    assert {r["emergency"] for r in held} == {None, "110", "119", "120", "122"}


def test_no_overlap_between_training_and_heldout() -> None:
    train = {r["text"] for r in _rows(LABELLED)}
    held = {r["text"] for r in _rows(HELDOUT)}
    assert not train & held
    assert len(train) == len(_rows(LABELLED)), "duplicate texts in training corpus"


def test_packaged_training_data_is_the_labelled_corpus() -> None:
    assert TRAIN_PATH.read_bytes() == LABELLED.read_bytes()
    assert len(load_corpus(TRAIN_PATH)) == len(_rows(LABELLED))


# ----------------------------------------------------------------------------- categories and kinds

CLEAR = {
    "CG": "小区门口天天有人摆地摊卖菜，占道经营，把人行道都堵了",
    "SZ": "我们这条街的路灯全坏了，井盖也丢了一个，晚上走路太危险",
    "HB": "工地晚上十一点还在施工，噪音太大吵得没法睡觉",
    "JT": "出租车司机拒载还绕路，公交车也老是不按时到站",
    "SC": "超市卖过期食品，找商家退货不给退",
    "ZF": "小区电梯又坏了，物业不管不问，物业费倒是年年涨",
    "RS": "老板拖欠我们三个月工资不发，也不给交社保",
    "MZ": "家里老人八十多岁了，想问问高龄津贴和低保怎么申请",
    "WJ": "医院挂号难，医生态度差，还乱收检查费",
    "JY": "孩子学校的老师搞有偿补课，校外培训机构乱收费",
    "ZA": "小区里有人聚众赌博，还有人搞传销拉人头",
    "XF": "楼道里堆满杂物，消防通道被堵，还有人在家里给电动车充电",
    "JF": "楼上邻居半夜噪音，和邻居吵架了，想找人调解邻里纠纷",
    "ZX": "请问公积金提取和个税专项附加扣除的政策是怎样的",
    "JJ": "快来人，楼下着火了，火很大有人被困在里面",
}


@pytest.mark.parametrize("code", sorted(CLEAR))
def test_clear_example_has_its_category_in_top3(clf: Classifier, code: str) -> None:
    result = clf.classify(CLEAR[code])
    assert code in [c.code for c in result.categories]
    assert len(result.categories) == 3
    assert result.categories[0].name == CATEGORY_NAMES[result.categories[0].code]


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
    assert {"kind", "kind_confidence", "categories", "matters", "emergency", "low_confidence"} <= set(data)
    assert Classification.model_validate(data) == result
    assert 0 <= result.kind_confidence <= 1
    confs = [c.confidence for c in result.categories]
    assert confs == sorted(confs, reverse=True)


def test_default_classifier_is_cached() -> None:
    assert default_classifier() is default_classifier()


@pytest.mark.parametrize("text", ["", "   ", "？？？", "a", "12345", "喂喂喂"])
def test_empty_or_meaningless_text_does_not_crash(clf: Classifier, text: str) -> None:
    result = clf.classify(text)
    assert result.kind in KINDS
    assert len(result.categories) == 3
    if not text.strip():
        assert result.low_confidence
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


# ----------------------------------------------------------------------------- emergencies


@pytest.mark.parametrize(
    ("text", "service"),
    [
        ("救命，我家厨房着火了！", "119"),
        ("楼下冒出很浓的黑烟，好像起火了", "119"),
        ("有人持刀在小区门口追人", "110"),
        ("有人拿着刀在超市里威胁收银员", "110"),
        ("我的包刚被人抢了", "110"),
        ("老人突然晕倒了，叫不醒", "120"),
        ("孩子从楼梯上摔下来，头流了很多血", "120"),
        ("我被车撞了流了很多血", "122"),
        ("路口两辆车相撞，有人受伤躺在地上", "122"),
        ("有人掉进河里了，在水里挣扎", "119"),
        ("我家老人有老年痴呆，早上出门走失了", "110"),
    ],
)
def test_emergencies_detected(clf: Classifier, text: str, service: str) -> None:
    result = clf.classify(text)
    assert result.emergency is not None, text
    assert result.emergency.service == service
    assert result.emergency.reason
    assert result.categories[0].code == "JJ"


@pytest.mark.parametrize(
    "text",
    [
        "楼道里电动车充电有火灾隐患",
        "去年被偷的自行车到现在还没找回来",
        "消防通道被堵了，万一着火消防车进不来",
        "这个路口经常发生车祸，建议装红绿灯",
        "上个月小区着过一次火，烧黑的墙到现在没人刷",
        "刚才两辆车剐蹭了一下，没有人受伤，已经私了",
        "老人差点摔倒，公交司机开车太猛",
        "电线老化，容易起火，请来检查",
        "小区门口的路灯坏了",
    ],
)
def test_non_emergencies_not_flagged(text: str) -> None:
    assert detect_emergency(text) is None, text


def test_negated_breathing_is_still_an_emergency() -> None:
    hit = detect_emergency("孩子溺水了，捞上来没有呼吸了")
    assert hit is not None and hit.service == "120"


# ----------------------------------------------------------------------------- held-out quality


def test_heldout_category_macro_f1(scores: dict) -> None:
    assert scores["category_macro_f1"] >= 0.7, scores


def test_heldout_kind_macro_f1(scores: dict) -> None:
    assert scores["kind_macro_f1"] >= 0.7, scores


def test_heldout_emergency_recall(scores: dict) -> None:
    assert scores["emergency_recall"] >= 0.9, scores
    assert scores["emergency_precision"] >= 0.6, scores


def test_training_does_not_use_heldout(clf: Classifier) -> None:
    # training from the packaged corpus alone must reproduce the same model version
    other = Classifier(load_corpus(TRAIN_PATH))
    assert other.version == clf.version


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
def small_catalog() -> Catalog:
    raw = [
        _matter("CG001", "占道经营", ["占道", "摆摊", "流动摊贩", "夜市"], ["门口有人摆摊占道经营"]),
        _matter("CG002", "违法建设", ["违建", "私搭乱建", "搭建", "彩钢棚"], ["楼顶私自搭建彩钢棚"]),
        _matter("CG003", "垃圾清运", ["垃圾", "清运", "垃圾桶", "建筑垃圾"], ["垃圾桶满了没人清运"]),
        _matter("HB001", "施工噪音", ["施工", "噪音", "夜间施工", "打桩"], ["工地半夜施工噪音扰民"]),
        _matter("HB002", "餐饮油烟", ["油烟", "餐馆", "排烟"], ["楼下餐馆油烟扰民"]),
        _matter("JJ001", "火灾", ["着火", "起火", "火灾", "冒烟"], ["楼下着火了"], "119"),
        _matter("JJ002", "交通事故", ["车祸", "撞车", "被车撞"], ["路口发生车祸有人受伤"], "122"),
    ]
    matters = [Matter.model_validate(m) for m in raw]
    return Catalog(
        version="test",
        departments_version="test",
        district_code="000000",
        district_name="测试区",
        matters=matters,
        departments=[],
    )


def test_matters_ranked_within_likely_categories(small_catalog: Catalog) -> None:
    clf = Classifier(load_corpus(TRAIN_PATH), catalog=small_catalog)
    result = clf.classify("小区门口有人摆摊卖水果，占道经营，人行道都堵了")
    assert result.matters, result
    assert result.matters[0].code == "CG001"
    assert result.matters[0].category == "CG"
    assert len(result.matters) <= 3
    confs = [m.confidence for m in result.matters]
    assert confs == sorted(confs, reverse=True)

    assert clf.classify("楼顶有人私自搭建彩钢棚，违建越搭越大").matters[0].code == "CG002"
    assert clf.classify("工地半夜还在打桩施工，噪音吵得睡不着").matters[0].code == "HB001"


def test_emergency_matter_follows_the_service(small_catalog: Catalog) -> None:
    clf = Classifier(load_corpus(TRAIN_PATH), catalog=small_catalog)
    assert clf.classify("快来人，仓库着火了，烟很大").matters[0].code == "JJ001"
    assert clf.classify("我被车撞了，腿上流了很多血").matters[0].code == "JJ002"


def test_without_catalog_matters_are_empty() -> None:
    clf = Classifier(load_corpus(TRAIN_PATH), catalog=None)
    assert clf.classify("垃圾没人清运").matters == []


def test_default_catalog_matters_if_shipped(clf: Classifier) -> None:
    if not clf.matters:
        pytest.skip("matter catalog not shipped yet")
    codes = {m.code for m in clf.matters}
    for text in CLEAR.values():
        result = clf.classify(text)
        assert result.matters
        assert all(m.code in codes for m in result.matters)
        top_cats = {c.code for c in result.categories}
        assert result.matters[0].category in top_cats
