"""Hand-made city for routing tests: three grids with a road gap and a hole,
a compound with one two-unit building, a team with an off-duty unit head,
departments with and without jurisdiction, three categories."""

from __future__ import annotations

import datetime as dt

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon, box
from sqlalchemy.orm import Session

from gridgis.geo.layouts import publish_layout
from gridgis.models import (
    SRID,
    Assignment,
    Building,
    Category,
    Community,
    Compound,
    Department,
    Grid,
    Layout,
    Staff,
    Unit,
)
from tests.support.actors import TESTS

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


def geom(polygon: Polygon) -> object:
    return from_shape(MultiPolygon([polygon]), srid=SRID)


@pytest.fixture
def city(db_session: Session) -> dict[str, object]:
    s = db_session
    community = Community(code="C1", name="测试社区", boundary=geom(COMMUNITY), gap_tolerance_m=30)
    s.add(community)
    s.flush()
    layout = Layout(community_id=community.id, name="L1")
    s.add(layout)
    s.flush()
    grids = {
        code: Grid(layout_id=layout.id, code=code, name=f"网格{code}", geom=geom(poly))
        for code, poly in (("A", GRID_A), ("B", GRID_B), ("C", GRID_C))
    }
    s.add_all(grids.values())
    s.flush()
    publish_layout(s, layout, PUBLISHED, actor=TESTS)
    police = Department(
        code="JJ",
        name="交警队",
        kind="traffic_police",
        jurisdiction=geom(box(114.300, 30.500, 114.302, 30.510)),
    )
    urban = Department(code="CG", name="城管执法局", kind="urban_management")
    wuye = Department(code="WY", name="国泰物业", kind="property_company")
    s.add_all([police, urban, wuye])
    s.flush()
    compound = Compound(
        community_id=community.id,
        code="Q1",
        name="丽景小区",
        property_company_id=wuye.id,
        geom=geom(box(114.3005, 30.5005, 114.302, 30.502)),
    )
    s.add(compound)
    s.flush()
    building = Building(
        community_id=community.id,
        compound_id=compound.id,
        code="X",
        name="丽景小区1栋",
        geom=geom(BUILDING_X),
        households=24,
    )
    s.add(building)
    s.flush()
    u1 = Unit(building_id=building.id, number="1", geom=geom(UNIT_1), households=12)
    u2 = Unit(building_id=building.id, number="2", geom=geom(UNIT_2), households=12)
    s.add_all([u1, u2])
    s.flush()
    people = {
        code: Staff(community_id=community.id, code=code, name=name, phone=phone)
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
    s.add_all(people.values())
    s.flush()
    a = grids["A"].id
    s.add_all(
        [
            Assignment(staff_id=people["GW"].id, role="grid_worker", grid_id=a),
            Assignment(staff_id=people["PT"].id, role="part_time_worker", grid_id=a),
            Assignment(staff_id=people["BH"].id, role="building_head", building_id=building.id),
            Assignment(staff_id=people["UH1"].id, role="unit_head", unit_id=u1.id, on_duty=False),
            Assignment(staff_id=people["UH2"].id, role="unit_head", unit_id=u2.id),
            Assignment(staff_id=people["VR"].id, role="volunteer", grid_id=a, volunteer_team="red"),
            Assignment(
                staff_id=people["VW"].id, role="volunteer", grid_id=a, volunteer_team="white"
            ),
        ]
    )
    parking = Category(
        code="parking", name_zh="违停", name_en="Parking", response_hours=1, resolution_hours=8
    )
    parking.departments = [police, urban]
    s.add_all(
        [
            parking,
            Category(
                code="property",
                name_zh="物业纠纷",
                name_en="Property",
                response_hours=4,
                resolution_hours=72,
                is_property=True,
            ),
            Category(
                code="medical",
                name_zh="医疗救助",
                name_en="Medical help",
                response_hours=0.5,
                resolution_hours=4,
                volunteer_team="white",
            ),
        ]
    )
    s.flush()
    return {"community": community, "grids": grids, "building": building, "u1": u1, "u2": u2}
