"""The demo gazetteer's streets, compounds, buildings, landmarks and stops; address extraction from free text;
a complaint's place fields (points outside the district flagged, never given an inside grid)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from services.intake.channels.wechat.service import address_follow_up
from services.intake.places import OUTSIDE_DISTRICT_NOTE, default_places
from services.intake.places.flows import placement
from services.intake.places.service import DEFAULT_GAZETTEER, Gazetteer, PlaceDataError, PlaceIndex
from services.intake.places.text import normalize_address
from shared.events.complaints import GeoPoint

pytestmark = pytest.mark.unit

STREETS = {"S01": "猛追湾街道", "S02": "府青路街道", "S03": "二仙桥街道", "S04": "双桥子街道", "S05": "万年场街道"}


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return default_places().gazetteer


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(DEFAULT_GAZETTEER.read_text(encoding="utf-8"))
    return raw


# ---- the demo data -----------------------------------------------------------------------------
def test_every_entry_names_its_grid_and_lies_in_it(data: dict[str, Any]) -> None:
    index = default_places().index
    assert len(data["landmarks"]) >= 80 and len(data["compounds"]) >= 20 and len(data["roads"]) >= 35
    for entry in [*data["landmarks"], *data["compounds"]]:
        grid = index.locate(*entry["point"])
        assert grid is not None and grid.grid_code == entry["grid"], entry["name"]
    kinds = {"站": 0, "公交站": 0, "医": 0, "学": 0, "公园": 0, "广场": 0, "街道办事处": 0}
    for lm in data["landmarks"]:
        for word in kinds:
            kinds[word] += word in lm["name"].replace("卫生服务中心", "医").replace("保健院", "医")
    assert kinds["公交站"] >= 10 and kinds["站"] - kinds["公交站"] >= 10  # bus and metro stops
    assert kinds["医"] >= 8 and kinds["学"] >= 10 and kinds["公园"] >= 4 and kinds["广场"] >= 3
    assert kinds["街道办事处"] == len(STREETS)


def test_every_landmark_and_compound_resolves_to_itself(data: dict[str, Any], gazetteer: Gazetteer) -> None:
    for entry in [*data["landmarks"], *data["compounds"]]:
        for name in [entry["name"], *entry.get("aliases", [])]:
            m = gazetteer.resolve(name)
            shared = sum(name in e.get("aliases", []) or name == e["name"] for e in data["landmarks"]) > 1
            if shared:
                assert m.status == "ambiguous", name  # 小吃街, 菜市场: two places share the name
                continue
            assert m.status == "resolved", (name, m)
            assert m.grid is not None and m.grid.grid_code == entry["grid"], name
            assert m.matched == entry["name"], name


def test_every_building_lies_in_its_compound_grid(data: dict[str, Any], gazetteer: Gazetteer) -> None:
    for compound in data["compounds"]:
        for n in range(1, compound["buildings"] + 1):
            m = gazetteer.resolve(f"{compound['name']}{n}栋1单元")
            assert m.status == "resolved" and m.precision == "building", (compound["name"], n, m)
            assert m.grid is not None and m.grid.grid_code == compound["grid"], (compound["name"], n)
            assert m.matched == f"{compound['name']} {n}栋1单元"


def test_buildings_are_distinct_points_tens_of_metres_apart(gazetteer: Gazetteer) -> None:
    found = [gazetteer.resolve(f"万科城市花园{n}栋").point for n in range(1, 19)]
    points = [p for p in found if p is not None]
    assert len(set(points)) == 18
    assert 20 < PlaceIndex.distance_m(points[0], points[1]) < 30  # neighbours in a row: 25 m
    assert 25 < PlaceIndex.distance_m(points[0], points[4]) < 35  # next row: 30 m


# ---- streets and communities: known by their short forms, resolved at their own level ------------
@pytest.mark.parametrize(
    ("text", "street", "community", "precision"),
    [
        ("双桥子", "S04", None, "street"),
        ("双桥子街道", "S04", None, "street"),
        ("在双桥子那边", "S04", None, "street"),
        ("万年场", "S05", None, "street"),
        ("猛追湾", "S01", None, "street"),
        ("二仙桥", "S03", None, "street"),
        ("府青路街道", "S02", None, "street"),
        ("望平社区", "S01", "S01C01", "community"),
        ("八里桥", "S02", "S02C01", "community"),
        ("二仙桥街道踏水社区", "S03", "S03C03", "community"),
        ("双桥子双桥路", "S04", None, "street"),  # a road without a number adds nothing
    ],
)
def test_streets_and_communities_resolve_at_their_level(
    gazetteer: Gazetteer, text: str, street: str, community: str | None, precision: str
) -> None:
    m = gazetteer.resolve(text)
    assert m.status == "resolved", m
    assert m.precision == precision and m.point is None and m.grid is None  # the grid is not guessed
    assert m.area is not None and m.area.street_code == street and m.area.street_name == STREETS[street]
    assert m.area.community_code == community
    assert m.confidence >= gazetteer.resolve_threshold


# ---- points: the most specific, longest name wins ------------------------------------------------
@pytest.mark.parametrize(
    ("text", "matched", "precision", "grid"),
    [
        ("万科城市花园3栋", "万科城市花园 3栋", "building", "S03C03G07"),
        ("万科城市花园三栋二单元", "万科城市花园 3栋2单元", "building", "S03C03G07"),
        ("萬科城市花園３棟", "万科城市花园 3栋", "building", "S03C03G07"),
        ("万科城市花园3号楼", "万科城市花园 3栋", "building", "S03C03G07"),
        ("万科城市花园小区第三栋", "万科城市花园 3栋", "building", "S03C03G07"),
        ("万科城花12幢", "万科城市花园 12栋", "building", "S03C03G07"),
        ("万科路万科城市花园3栋", "万科城市花园 3栋", "building", "S03C03G07"),
        ("万科城市花园对面", "万科城市花园", "compound", "S03C03G07"),
        ("万科城市花园门口", "万科城市花园", "compound", "S03C03G07"),
        ("万科城市花园旁边", "万科城市花园", "compound", "S03C03G07"),
        ("万科城市花园附近", "万科城市花园", "compound", "S03C03G07"),
        ("万科城市花园99栋", "万科城市花园（无99栋）", "compound", "S03C03G07"),
        ("双林小区5#楼2单元", "双林小区 5栋2单元", "building", "S01C04G04"),
        ("翡翠城3-2-501", "翡翠城 3栋2单元", "building", "S01C03G03"),
        ("府青路三号院2栋", "府青路三号院 2栋", "building", "S02C03G10"),  # not 府青路 3号
        ("华润24城5栋", "华润二十四城 5栋", "building", "S04C03G06"),
        ("双林路６６號", "双林路 66号", "house_number", "S01C04G02"),
        ("双林路六十六号附近", "双林路 66号", "house_number", "S01C04G02"),
        ("成华区双桥子街道双桥路12号", "双桥路 12号", "house_number", None),
        ("驷马桥地铁站", "驷马桥站", "landmark", "S02C01G02"),
        ("地铁驷马桥站", "驷马桥站", "landmark", "S02C01G02"),
        ("驷马桥站地铁口旁边", "驷马桥站", "landmark", "S02C01G02"),
        ("理工大学站", "理工大学站", "landmark", None),  # not 成都理工大学
        ("SM广场公交站", "SM广场公交站", "landmark", None),
        ("双桥子街道办门口", "双桥子街道办事处", "landmark", None),
        ("成华区妇幼保健院", "成华区妇幼保健院", "landmark", None),
        ("电子科大附中", "电子科技大学实验中学", "landmark", None),
        ("沙河公园旁边", "沙河公园", "landmark", None),
    ],
)
def test_specific_places_resolve(
    gazetteer: Gazetteer, text: str, matched: str, precision: str, grid: str | None
) -> None:
    m = gazetteer.resolve(text)
    assert m.status == "resolved", m
    assert m.matched == matched and m.precision == precision
    assert m.grid is not None and m.point is not None and gazetteer.places.locate(*m.point) == m.grid
    if grid is not None:
        assert m.grid.grid_code == grid
    assert m.area is not None and m.area.street_code == m.grid.street_code


def test_a_compound_is_not_the_road_that_shares_its_first_characters(gazetteer: Gazetteer) -> None:
    compound, road = gazetteer.resolve("万科城市花园3栋"), gazetteer.resolve("万科路8号")
    assert compound.grid is not None and road.grid is not None
    assert compound.grid.grid_code != road.grid.grid_code
    road_alone = gazetteer.resolve("万科路")  # a road alone gives its street, never a point
    assert road_alone.status == "resolved" and road_alone.precision == "road" and road_alone.point is None
    assert road_alone.area is not None and road_alone.area.street_code == "S03"


@pytest.mark.parametrize(
    ("text", "status", "street"),
    [
        ("桃蹊路", "resolved", "S02"),  # the whole road lies in 府青路街道
        ("桃蹊路一家美容院", "resolved", "S02"),
        ("崔家店路999号", "resolved", "S03"),  # a number the gazetteer does not know: the street still is
        ("建设路", "ambiguous", None),  # runs through four streets
        ("府青路", "ambiguous", None),  # 一段 and 二段: two streets
        ("双林路", "ambiguous", None),
    ],
)
def test_a_road_alone_gives_its_street_when_it_lies_in_one(
    gazetteer: Gazetteer, text: str, status: str, street: str | None
) -> None:
    m = gazetteer.resolve(text)
    assert m.status == status and m.point is None and m.grid is None
    assert (m.area.street_code if m.area else None) == street


def test_a_road_name_followed_by_jiedao_is_a_street_name(gazetteer: Gazetteer) -> None:
    # 建设路街道 (not drawn on the demo map) is attributed to 猛追湾街道, which holds 建设路社区
    m = gazetteer.resolve("建设路街道双林路66号")
    assert m.status == "resolved" and m.matched == "双林路 66号" and m.confidence == 0.95
    street = gazetteer.resolve("成华区建设路街道")
    assert street.status == "resolved" and street.area is not None and street.area.street_code == "S01"
    # attributed, it never contradicts a point: 双林路274号 lies in 双桥子街道 on the demo map
    far = gazetteer.resolve("建设路街道双林路274号")
    assert far.status == "resolved" and far.grid is not None and far.grid.street_code == "S04"
    # an unknown "<road>街道" is a street's name, not the road: it adds nothing
    assert gazetteer.resolve("双林路街道").status == "unresolved"
    assert gazetteer.resolve("东三环路二段与槐树店路交叉口").precision == "intersection"


@pytest.mark.parametrize(
    ("text", "readings"),
    [
        ("双桥子街道万年场小区", {"万年场小区", "双桥子街道"}),  # the street does not hold the compound
        ("双桥子街道望平社区", {"望平社区", "双桥子街道"}),
        ("在双桥子站", {"双桥子公交站"}),  # only a bus stop of that name: 0.9 alias, offered with the street
    ],
)
def test_disagreeing_names_are_offered_not_taken(gazetteer: Gazetteer, text: str, readings: set[str]) -> None:
    m = gazetteer.resolve(text)
    if text == "在双桥子站":
        assert m.status == "resolved" and m.matched == "双桥子公交站"
        return
    assert m.status == "ambiguous", m
    assert readings <= {c.matched for c in m.candidates}


def test_typo_of_a_longer_name_is_not_read_into_a_short_one(gazetteer: Gazetteer) -> None:
    # 双桥子 is said; 双桥子站 (a bus stop) is not a typo of "双桥子那"
    m = gazetteer.resolve("在双桥子那边")
    assert m.status == "resolved" and m.precision == "street"
    fuzzy = gazetteer.resolve("猛追湾滨河公圆")  # but a typo after a street's short form still counts
    assert fuzzy.status == "resolved" and fuzzy.matched == "猛追湾滨河公园" and fuzzy.fuzzy


def test_normalisation_of_written_forms() -> None:
    assert normalize_address("萬科城市花園３棟２單元") == "万科城市花园3栋2单元"
    assert normalize_address("5#楼") == "5栋"
    assert normalize_address("万科城市花园三栋") == "万科城市花园3栋"
    assert normalize_address("第三座") == "第3座"


# ---- addresses inside free text ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "address", "matched"),
    [
        ("我在建设路街道双林路66号这边，井盖莫得了", "建设路街道双林路66号", "双林路 66号"),
        (
            "市民来电反映：成华区双林路66号附近人行道一处井盖缺失，要求尽快补装。",
            "成华区双林路66号附近",
            "双林路 66号",
        ),
        ("网格员巡查发现：双林路66号门前检查井井盖丢失，已设置锥桶", "双林路66号门前", "双林路 66号"),
        ("双林路六十六号门口那个井盖莫得了，晚上黑黢黢的", "双林路66号门口", "双林路 66号"),
        ("万科城市花园3栋楼下的垃圾好几天没人收了", "万科城市花园3栋", "万科城市花园 3栋"),
        ("建设路与二环路东一段交叉口红绿灯坏了", "建设路与二环路东一段交叉口", "建设路与二环路东一段交叉口"),
        ("驷马桥地铁站C口有人发传单，堵得很", "驷马桥地铁站", "驷马桥站"),
        ("区政府门口有人摆摊", "区政府门口", "成华区人民政府"),
        ("双桥子那边烧烤油烟大得很", "双桥子", "双桥子街道"),
        ("我家在八里小区2栋3单元，楼上天天半夜装修", "八里小区2栋3单元", "八里小区 2栋3单元"),
    ],
)
def test_address_inside_a_message_is_extracted_and_resolved(text: str, address: str, matched: str) -> None:
    found = default_places().extract(text)
    assert found is not None and found.text == address, found
    assert found.match.status == "resolved" and found.match.matched == matched


@pytest.mark.parametrize(
    "text",
    [
        "向区政府反映一下物业乱收费的问题",  # 区政府 named as the addressee, not a place
        "菜市场的菜太贵了，希望管一管",
        "小区门口的路灯坏了一个星期，晚上很黑",
        "楼上装修太吵了，周末早上七点就开始",
        "我想咨询一下居住证怎么办理",
        "我们小区门口有人乱停车",
        "其居住的龙潭街道某小区二次供水水箱有青苔",  # a street that is not on the demo map, no name
        "",
    ],
)
def test_messages_without_a_known_place_give_none(text: str) -> None:
    assert default_places().extract(text) is None


def test_an_unknown_address_shaped_phrase_is_kept_unresolved() -> None:
    found = default_places().extract("我住在幸福小区3栋，楼上太吵")
    assert found is not None and found.text == "幸福小区3栋" and found.match.status == "unresolved"


# ---- a complaint's place fields ------------------------------------------------------------------
def test_a_point_outside_the_district_is_flagged_never_given_an_inside_grid() -> None:
    found = placement(GeoPoint(lon=116.397, lat=39.909, source="gps"), "双林路66号", "双林路66号井盖莫得了")
    assert found.place is not None and found.place.outside_district and found.place.note == OUTSIDE_DISTRICT_NOTE
    assert found.place.grid_code is None and found.place.street_code is None and found.location is None
    check = default_places().check_point(116.397, 39.909)
    assert check.outside_district and check.grid is None and check.distance_m > 1_000_000
    # a few metres outside the edge is GPS error: the nearest grid; 300 m out is outside
    min_lon = default_places().index.bounds[0]
    assert not default_places().check_point(min_lon - 0.0002, 30.66).outside_district
    assert default_places().check_point(min_lon - 0.003, 30.66).outside_district


def test_placement_from_address_then_text() -> None:
    street = placement(None, "双桥子", "井盖莫得了")
    assert street.address_status == "resolved" and street.location is None
    assert street.place is not None and street.place.street_code == "S04" and street.place.grid_code is None
    from_text = placement(None, None, "我在建设路街道双林路66号这边，井盖莫得了")
    assert from_text.address == "建设路街道双林路66号" and from_text.address_status == "resolved"
    assert from_text.location is not None and from_text.location.source == "gazetteer"
    assert from_text.place is not None and from_text.place.grid_code == "S01C04G02"
    assert placement(None, None, "楼上太吵了") == type(from_text)()


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("双林路66号", "双林路66号"),
        ("我在双林路66号这边", "双林路66号"),
        ("地址是万科城市花园3栋2单元", "万科城市花园3栋2单元"),
        ("你好，我在东郊记忆门口", "东郊记忆门口"),
        ("在双林路66号，井盖莫得了", None),  # a new complaint, not only an address
        ("路灯坏了", None),
        ("幸福小区3栋", None),  # unresolved: not taken as the place
    ],
)
def test_wechat_address_follow_up(text: str, address: str | None) -> None:
    found = address_follow_up(text)
    assert (found.text if found else None) == address


def test_gazetteer_data_errors_name_the_entry() -> None:
    index = default_places().index
    with pytest.raises(
        PlaceDataError, match=r"compound #0 \(某小区\): point .* lies in grid S01C01G\d+, not S05C01G01"
    ):
        Gazetteer.from_dict(
            {"compounds": [{"name": "某小区", "point": [104.085, 30.66], "buildings": 3, "grid": "S05C01G01"}]},
            index,
        )
    with pytest.raises(PlaceDataError, match="buildings"):
        Gazetteer.from_dict({"compounds": [{"name": "某小区", "point": [104.085, 30.66], "buildings": -1}]}, index)
    with pytest.raises(PlaceDataError, match=r"area #0"):
        Gazetteer.from_dict({"areas": [{"code": "S99", "aliases": ["某处"]}]}, index)
