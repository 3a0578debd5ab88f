"""Emergencies (紧急警情 → 110/119/120/122): the rules alone, and the classifier (rules gated by the model).
Hard negatives — barbecue smoke, yesterday's accident, yesterday's threat, a smoke alarm beeping for its battery,
fire hazards (消防安全) — must not be transferred."""

from __future__ import annotations

import pytest

from services.intake.classify.emergency import detect_emergency, find_emergencies
from services.intake.classify.model import Classifier
from services.intake.classify.service import default_classifier

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return default_classifier()


POSITIVES = [
    ("救命，我家厨房着火了！", "119"),
    ("楼下冒出很浓的黑烟，好像起火了", "119"),
    ("三楼那户人家窗户里火苗窜出来了，快来", "119"),
    ("单元楼里一股很大的煤气味，好像燃气泄漏了", "119"),
    ("有人掉进河里了，在水里挣扎", "119"),
    ("电梯卡在两层中间，我们三个人被困在里面", "119"),
    ("有人持刀在小区门口追人", "110"),
    ("有人拿着刀在超市里威胁收银员", "110"),
    ("我的包刚被人抢了", "110"),
    ("隔壁男的正在打老婆，打得很凶，一直在喊救命", "110"),
    ("我家老人有老年痴呆，早上出门走失了", "110"),
    ("老人突然晕倒了，叫不醒", "120"),
    ("孩子从楼梯上摔下来，头流了很多血", "120"),
    ("我爸突然说不出话，半边身子动不了", "120"),
    ("我被车撞了流了很多血", "122"),
    ("有两个人正在撬停车场里的车窗", "110"),
    ("我妈把一整瓶安定片吞了，现在迷迷糊糊的", "120"),
    ("孩子吃错药了，把大人的降糖药当糖吃了", "120"),
    ("路口两辆车相撞，有人受伤躺在地上", "122"),
]


@pytest.mark.parametrize(("text", "service"), POSITIVES)
def test_rules_find_the_service(text: str, service: str) -> None:
    hit = detect_emergency(text)
    assert hit is not None, text
    assert hit.service == service
    assert hit.trigger and hit.reason


@pytest.mark.parametrize(("text", "service"), POSITIVES)
def test_classifier_transfers_emergencies(clf: Classifier, text: str, service: str) -> None:
    result = clf.classify(text)
    assert result.emergency is not None, text
    assert result.emergency.service == service
    assert result.category == "JJ"
    assert not result.auto_route  # transferred, not routed to a department


RULE_NEGATIVES = [
    "楼道里电动车充电有火灾隐患",
    "去年被偷的自行车到现在还没找回来",
    "消防通道被堵了，万一着火消防车进不来",
    "这个路口经常发生车祸，建议装红绿灯",
    "上个月小区着过一次火，烧黑的墙到现在没人刷",
    "刚才两辆车剐蹭了一下，没有人受伤，已经私了",
    "老人差点摔倒，公交司机开车太猛",
    "电线老化，容易起火，请来检查",
    "小区门口的路灯坏了",
    "楼下烧烤摊天天冒烟，呛死人了",
    "我还以为着火了，原来是楼下在烧烤",
    "有人在小区里烧垃圾，浓烟滚滚，熏得人头疼",
    "被人打了一顿，上周的事，派出所到现在没立案",
    "狗咬伤了我家孩子，已经打了疫苗，想找狗主人赔偿",
    "昨天晚上路口两辆车撞了，今天碎玻璃还没人扫",
    "上个月吃错药住院了，医院收费太贵想投诉",
]


@pytest.mark.parametrize("text", RULE_NEGATIVES)
def test_rules_do_not_fire_on_past_hypothetical_or_harmless(text: str) -> None:
    assert find_emergencies(text) == [], text


def test_negated_breathing_is_still_an_emergency() -> None:
    hit = detect_emergency("孩子溺水了，捞上来没有呼吸了")
    assert hit is not None and hit.service == "120"


HARD_NEGATIVES = [
    # barbecue smoke
    "楼下烧烤摊的烟太大了，我还以为着火了，窗户都不敢开",
    "隔壁餐馆排油烟，整栋楼都是烟，呛得人咳嗽",
    # yesterday's accident
    "昨天在建设路被电瓶车撞了，对方跑了，想问问怎么找到他",
    "前天路口发生车祸，护栏撞坏了到现在还没修",
    # yesterday's threat
    "昨天邻居说要砍死我，今天想问问能不能报警备案",
    "前几天有人在网上威胁我，说要来找我麻烦",
    # a smoke alarm beeping for its battery
    "烟感报警器没电了，一直滴滴滴地叫，物业也不来换",
    "家里的烟感半夜老是响，检查了没有着火，是电池没电了",
    # fire hazards (消防安全), not fires
    "楼道里好多电瓶车在充电，电线乱拉，万一起火就完了",
    "消防通道被私家车堵死了，物业不管",
    "小区的灭火器全部过期了，消火栓也没水",
    "地下室有人住，堆满了纸箱，一点火星就能烧起来",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_classifier_does_not_transfer_hard_negatives(clf: Classifier, text: str) -> None:
    result = clf.classify(text)
    assert result.emergency is None, (text, result.emergency)
    assert result.category != "JJ"


@pytest.mark.parametrize(
    "text",
    ["楼道里好多电瓶车在充电，电线乱拉，万一起火就完了", "消防通道被私家车堵死了，物业不管", "小区的灭火器全部过期了"],
)
def test_fire_hazards_are_fire_safety_not_119(clf: Classifier, text: str) -> None:
    result = clf.classify(text)
    assert result.emergency is None
    assert result.category == "XF"


def test_model_alone_can_flag_and_picks_a_service(clf: Classifier) -> None:
    """With no rule able to fire, the model alone flags only above its own (high) cut-off."""
    assert 0.0 <= clf.emergency_gate <= clf.emergency_alone
    result = clf.classify("喂喂，快点来人，这边出大事了，有人倒在血泊里")
    if result.emergency is not None:
        assert result.emergency.service in {"110", "119", "120", "122"}
