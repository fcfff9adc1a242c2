"""A small city for routing tests, built with the factories: three grids with a road gap and a hole,
a compound with one two-unit building, a team with an off-duty unit head,
departments with and without jurisdiction, three categories."""

from __future__ import annotations

import datetime as dt

import pytest
from shapely.geometry import Polygon, box
from sqlalchemy.orm import Session

from tests.support import factories as make

UTC = dt.UTC
PUBLISHED = dt.datetime(2026, 1, 1, tzinfo=UTC)
AFTER = dt.datetime(2026, 6, 1, tzinfo=UTC)

# West half A, south-east quarter B (with a 96 m × 111 m hole), north-east C.
# Between A and C runs a 0.0003° (≈ 28.8 m) gap: a road between grids.
COMMUNITY = box(114.300, 30.500, 114.310, 30.510)
HOLE = box(114.307, 30.502, 114.308, 30.503)
GRID_A = box(114.300, 30.500, 114.305, 30.510)
GRID_B = Polygon(box(114.305, 30.500, 114.310, 30.505).exterior.coords, [HOLE.exterior.coords])
GRID_C = box(114.3053, 30.505, 114.310, 30.510)
BUILDING_X = box(114.301, 30.501, 114.3012, 30.5011)
UNIT_1 = box(114.301, 30.501, 114.3011, 30.5011)
UNIT_2 = box(114.3011, 30.501, 114.3012, 30.5011)


@pytest.fixture
def city(db_session: Session) -> dict[str, object]:
    """The routing city, in the test's rolled-back session."""
    return build_routing_city(db_session)


def build_routing_city(s: Session) -> dict[str, object]:
    community = make.community(s, "C1", COMMUNITY, name="测试社区", gap_tolerance_m=30)
    layout = make.layout(
        s, community, "L1", grids={"A": GRID_A, "B": GRID_B, "C": GRID_C}, published=PUBLISHED
    )
    grids = {g.code: g for g in layout.grids}
    police = make.department(
        s,
        "JJ",
        "traffic_police",
        name="交警队",
        jurisdiction=box(114.300, 30.500, 114.302, 30.510),
    )
    urban = make.department(s, "CG", "urban_management", name="城管执法局")
    wuye = make.department(s, "WY", "property_company", name="国泰物业")
    compound = make.compound(
        s,
        community,
        "Q1",
        box(114.3005, 30.5005, 114.302, 30.502),
        name="丽景小区",
        property_company=wuye,
    )
    building = make.building(
        s, community, "X", BUILDING_X, households=24, compound=compound, name="丽景小区1栋"
    )
    u1 = make.unit(s, building, "1", UNIT_1, households=12)
    u2 = make.unit(s, building, "2", UNIT_2, households=12)
    people = {
        code: make.staff(s, community, code, name, phone)
        for code, name, phone in (
            ("GW", "王网格", "13800000001"),
            ("PT", "李兼职", "13800000002"),
            ("BH", "赵楼长", "13800000003"),
            ("UH1", "钱单元", "13800000004"),
            ("UH2", "孙单元", "13800000005"),
            ("VR", "周红", "13800000006"),
            ("VW", "吴白", "13800000007"),
        )
    }
    a = grids["A"]
    make.assign(s, people["GW"], "grid_worker", grid=a)
    make.assign(s, people["PT"], "part_time_worker", grid=a)
    make.assign(s, people["BH"], "building_head", building=building)
    make.assign(s, people["UH1"], "unit_head", unit=u1, on_duty=False)
    make.assign(s, people["UH2"], "unit_head", unit=u2)
    make.assign(s, people["VR"], "volunteer", grid=a, team="red")
    make.assign(s, people["VW"], "volunteer", grid=a, team="white")
    make.category(s, "parking", name_zh="违停", name_en="Parking", departments=(police, urban))
    make.category(
        s,
        "property",
        name_zh="物业纠纷",
        name_en="Property",
        response_hours=4,
        resolution_hours=72,
        is_property=True,
    )
    make.category(
        s,
        "medical",
        name_zh="医疗救助",
        name_en="Medical help",
        response_hours=0.5,
        resolution_hours=4,
        volunteer_team="white",
    )
    return {"community": community, "grids": grids, "building": building, "u1": u1, "u2": u2}
