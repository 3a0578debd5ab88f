"""shared/redact.py: personal data masked in free text, addresses and points coarsened."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.redact import coarsen_address, coarsen_point, public_description, redact_text

PLANTED = "我叫王小明，电话13712345678，身份证510108199001011234，住建设路12号3栋501"


def test_the_planted_complaint_keeps_nothing_personal() -> None:
    out = redact_text(PLANTED)
    for secret in ("王小明", "小明", "13712345678", "12345678", "510108199001011234", "19900101", "12号", "3栋", "501"):
        assert secret not in out, (secret, out)
    assert out == "我叫王**，电话137****5678，身份证510108***********4，住建设路**号**栋**"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("手机13800138000请回电", "手机138****8000请回电"),
        ("电话：+86 138-0013-8000", "电话：+86 138-****-8000"),
        ("手机号8613800138000", "手机号86138****8000"),
        ("全角１３８００１３８０００", "全角１３８****８０００"),
        ("座机028-84561234转8001", "座机028-******34转8001"),
        ("座机(0755)86001234", "座机(0755)******34"),
        ("家里电话84561234", "家里电话******34"),
        ("QQ 12345678 找我", "QQ ******78 找我"),
        ("身份证号51010819900101123X", "身份证号510108***********X"),
        ("老身份证510108900101123", "老身份证510108********3"),
        ("卡号6222021234567890123被盗刷", "卡号6222***********0123被盗刷"),
        ("卡号6222 0212 3456 7890", "卡号6222 **** **** 7890"),
        ("一三七一二三四五六七八是我的号码", "***********是我的号码"),
        ("车牌川A12345的车堵了消防通道", "车牌川A***45的车堵了消防通道"),
        ("新能源车川AD12345和渝b·88888", "新能源车川A****45和渝b·***88"),
        ("邮箱wang.xm@163.com", "邮箱w***@163.com"),
        ("QQ邮箱13712345678@qq.com", "QQ邮箱1***@qq.com"),
        ("加我微信号wangxm_1990", "加我微信号wa*********"),
        ("我是张三，住在楼下", "我是张*，住在楼下"),
        ("本人李四反映", "本人李*反映"),
        ("我的名字叫刘德华。", "我的名字叫刘**。"),
        ("我是欧阳娜娜", "我是欧阳**"),
        ("姓名：买买提 联系人：王先生", "姓名：买**  联系人：王先生".replace("  ", " ")),
        ("市民赵铁柱反映小区停水", "市民赵**反映小区停水"),
        ("已电话联系王小明，答复市民李四：已修复", "已电话联系王**，答复市民李*：已修复"),
        ("住金色花园12号楼2单元1201室", "住金色花园**号楼**单元**室"),
        ("住龙潭寺小区3-2-501", "住龙潭寺小区**-**-**"),
        ("东郊记忆A座5楼502", "东郊记忆**座**楼**"),
        ("建设北路二段7号附1号门口", "建设北路二段**号附**号门口"),
    ],
)
def test_masks(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "我是业主，小区电梯坏了三天",
        "我是成都人，我是党员",
        "我叫了物业好几次",
        "已联系物业和施工方，联系方式见公示，告知路灯已修，联系张女士",
        "市民王女士反映：王先生家楼上漏水",
        "我姓王",
        "本月12号来修过，2024-01-01也来过",
        "房子两室一厅，一座桥，三号线",
        "地铁10号线崔家店站B口往东50米",
        "路灯不亮已经3天了，楼下有5辆车",
        "春熙路步行街，二环路高架桥下",
    ],
)
def test_leaves_ordinary_text_alone(text: str) -> None:
    assert redact_text(text) == text


def test_empty_text() -> None:
    assert redact_text("") == ""


def test_public_description_policy() -> None:
    assert public_description(PLANTED, "redacted") == redact_text(PLANTED)
    assert public_description(PLANTED, "none") == ""
    assert public_description(None) == ""


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("四川省成都市成华区建设路12号3栋2单元501", "四川省成都市成华区建设路"),
        ("建设路12号3栋2单元501", "建设路"),
        ("成华区建设北路二段7号附1号", "成华区建设北路二段"),
        ("猛追湾街道望平社区望平街58号", "猛追湾街道望平社区望平街"),
        ("龙潭寺小区12-3-501", "龙潭寺小区"),
        ("东郊记忆A座", "东郊记忆"),
        ("万达广场3楼", "万达广场"),
        ("二仙桥东三路5号院", "二仙桥东三路"),
        ("府青路与建设路交叉口往北50米", "府青路与建设路交叉口往北50米"),
        ("地铁7号线崔家店站B口", "地铁7号线崔家店站B口"),
        ("建设路（临12号）", "建设路"),
        ("望平街 88", "望平街"),
        ("二环路东二段", "二环路东二段"),
        ("", ""),
        (None, ""),
    ],
)
def test_coarsen_address(address: str | None, expected: str) -> None:
    assert coarsen_address(address) == expected


def test_coarsen_address_redacts_what_is_left() -> None:
    assert coarsen_address("建设路口 联系人：王小明") == "建设路口 联系人：王**"
    assert coarsen_address("建设路（电话13712345678）") == "建设路（电话"


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * 111_320
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


@given(st.floats(min_value=20.0, max_value=45.0), st.floats(min_value=100.0, max_value=120.0))
def test_coarsen_point_moves_at_most_a_cell_and_hides_the_exact_point(lat: float, lon: float) -> None:
    clat, clon = coarsen_point(lat, lon)
    assert _metres(lat, lon, clat, clon) <= 80  # half a cell's diagonal (~110 m × ~100 m cells)
    assert coarsen_point(clat, clon) == (clat, clon)
    # every point of one cell gives the same answer: a 40 m move inside the cell does not show
    assert coarsen_point(clat + 0.0003, clon - 0.0003) == (clat, clon)


# --- properties: a planted number never survives, whatever text surrounds it --------------------------------

CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
PUNCT = st.sampled_from(list("，。！？、：；（）“”《》 -"))
CHINESE_TEXT = st.text(alphabet=st.one_of(CJK, PUNCT), max_size=40)
ANY_TEXT = st.text(max_size=30)
MOBILES = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    region = draw(st.from_regex(r"[1-8][0-9]{5}", fullmatch=True))
    year = draw(st.integers(1930, 2020))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    serial = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    check = draw(st.sampled_from(list("0123456789X")))
    return f"{region}{year:04d}{month:02d}{day:02d}{serial}{check}"


@given(CHINESE_TEXT, MOBILES, CHINESE_TEXT)
def test_no_mobile_survives_in_chinese_text(before: str, mobile: str, after: str) -> None:
    assert mobile not in redact_text(before + mobile + after)


@given(ANY_TEXT, MOBILES, ANY_TEXT)
def test_no_mobile_survives_in_any_text(before: str, mobile: str, after: str) -> None:
    assert mobile not in redact_text(before + mobile + after)


@given(CHINESE_TEXT, id_numbers(), CHINESE_TEXT)
def test_no_id_number_survives_in_chinese_text(before: str, id_number: str, after: str) -> None:
    out = redact_text(before + id_number + after)
    assert id_number not in out
    assert id_number[6:14] not in out  # the birth date


@given(ANY_TEXT, id_numbers(), ANY_TEXT)
def test_no_id_number_survives_in_any_text(before: str, id_number: str, after: str) -> None:
    assert id_number not in redact_text(before + id_number + after)


@given(CHINESE_TEXT, st.from_regex(r"62[0-9]{14,17}", fullmatch=True), CHINESE_TEXT)
def test_no_bank_card_survives(before: str, card: str, after: str) -> None:
    assert card not in redact_text(before + card + after)


GIVEN_CHARS = st.sampled_from(list("小明伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛超霞平刚桂兰志国华建红玉梅"))


@given(
    st.sampled_from(["我叫", "我是", "本人", "市民", "姓名：", "联系人："]),
    st.sampled_from(list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘")),
    st.lists(GIVEN_CHARS, min_size=1, max_size=2).map("".join),
    st.sampled_from(["，", "。", "反映", "住在", "", " "]),
)
def test_self_introduced_names_are_masked(trigger: str, surname: str, given_name: str, after: str) -> None:
    out = redact_text(f"{trigger}{surname}{given_name}{after}")
    assert out == f"{trigger}{surname}{'*' * len(given_name)}{after}"
