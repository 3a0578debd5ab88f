"""flows.enrich: place from a point or the gazetteer, classification, emergency; explicit input wins."""

from __future__ import annotations

import asyncio

from services.intake.complaint.flows import enrich, enrich_sync
from services.intake.complaint.schemas import ComplaintDraft
from services.intake.places import default_places
from shared.events.complaints import EmergencyFlag, GeoPoint, PlaceRef


def draft(**kw: object) -> ComplaintDraft:
    values: dict[str, object] = {
        "channel": "hotline",
        "channel_key": "k-1",
        "text": "建设路12号门口井盖坏了，晚上很危险",
    }
    values.update(kw)
    return ComplaintDraft(**values)  # type: ignore[arg-type]


def test_address_resolves_to_point_and_grid() -> None:
    out = asyncio.run(enrich(draft(address="成华区建设路12号")))
    assert out.address_status == "resolved"
    assert out.location is not None and out.location.source == "gazetteer"
    assert out.place is not None and out.place.street_code == "S01"
    assert out.place.grid_code and out.place.grid_code.startswith("S01")


def test_point_wins_over_address_and_finds_its_grid() -> None:
    match = default_places().resolve("成华区建设路12号")
    assert match.point is not None
    lon, lat = match.point
    out = enrich_sync(draft(address="乱写的地址", location=GeoPoint(lon=lon, lat=lat, source="gps")))
    assert out.location is not None and out.location.source == "gps"
    assert out.place is not None and out.place.grid_code == match.grid.grid_code  # type: ignore[union-attr]
    assert out.address_status == "none"


def test_unknown_address_is_flagged_not_guessed() -> None:
    out = enrich_sync(draft(address="火星基地七号楼"))
    assert out.address_status in {"unresolved", "ambiguous"}
    assert out.location is None
    assert out.place is None


def test_point_outside_map_has_no_grid() -> None:
    out = enrich_sync(draft(location=GeoPoint(lon=116.39, lat=39.9, source="gps")))
    assert out.place is not None and out.place.grid_code is None and out.place.street_code is None
    assert out.place.outside_district and out.place.note == "坐标不在本区范围内"


def test_given_place_is_kept() -> None:
    given = PlaceRef(street_code="S02", grid_code="S02C01G01")
    out = enrich_sync(draft(address="成华区建设路12号", place=given))
    assert out.place == given


def test_classification_fills_kind_and_suggestions() -> None:
    out = enrich_sync(draft())
    assert out.kind in {"投诉", "求助", "举报"}
    assert 1 <= len(out.suggestions) <= 3
    first = out.suggestions[0]
    assert first["category"] == "SZ" and first["matter_code"] == "SZ002"
    assert 0 <= first["confidence"] <= 1
    assert out.emergency is None


def test_explicit_kind_and_matter_win() -> None:
    out = enrich_sync(draft(kind="建议", matter_code="CG001"))
    assert out.kind == "建议"
    assert out.matter_code == "CG001"
    assert out.category is None  # the store derives it from the matter code


def test_confident_category_is_set() -> None:
    out = enrich_sync(draft(text="楼下烧烤店油烟太大，每天晚上熏得窗户都不能开，投诉多次没人管"))
    assert out.suggestions
    if out.category is not None:
        assert out.category in {s["category"] for s in out.suggestions}


def test_emergency_is_flagged() -> None:
    out = enrich_sync(draft(text="楼下着火了，浓烟很大，有人被困在三楼"))
    assert out.emergency is not None and out.emergency.service == "119"


def test_given_emergency_is_kept() -> None:
    flag = EmergencyFlag(service="110", reason="operator")
    out = enrich_sync(draft(text="楼下着火了", emergency=flag))
    assert out.emergency == flag


def test_emergency_matter_code_flags_emergency() -> None:
    out = enrich_sync(draft(text="有情况需要处理", matter_code="JJ001"))
    assert out.emergency is not None and out.emergency.service == "119"


def test_a_question_named_in_the_knowledge_base_gets_its_specific_matter() -> None:
    """直接办结: a 咨询 the catalog answers is routed to that matter (specific before the catch-all guide)."""
    from services.intake.complaint.flows import enrich_sync, knowledge_matter

    assert knowledge_matter("请问居住证怎么办理，需要什么材料").code == "ZX003"  # type: ignore[union-attr]
    assert knowledge_matter("请问在哪里办，需要什么材料").code == "ZX014"  # type: ignore[union-attr]
    assert knowledge_matter("井盖坏了找谁") is None  # no knowledge answer for a repair
    draft = enrich_sync(ComplaintDraft(channel="wechat", channel_key="q-1", text="请问居住证怎么办理，需要什么材料"))
    assert (draft.kind, draft.matter_code, draft.category) == ("咨询", "ZX003", "ZX")
