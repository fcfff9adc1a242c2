"""A small community built with the factories, for map and API tests.

Shared by ``tests/gridgis`` (inside a rolled-back ``db_session``) and
``tests/web`` (committed into a database of its own for the live app). The
numbers are chosen so that a test can state what a user would see::

      lon 114.300     114.302     114.304     114.306
    lat +-----------+-----------+-----------+ 30.594
        |  网格一   |  网格二    |  网格三   |
        | [B02]     |           |     [B05] |
        |   阳光小区 (dashed) ....|           |
        | [B01]     |   [B03]   |     [B04] |
        +-----------+-----------+-----------+ 30.590

- Layout ``2025版`` (in force since 2025-01-01): three grids G1 G2 G3, one per
  column. Layout ``2024版`` (2024, closed) has two grids, ``2027草案`` is a
  draft with one.
- Compound ``阳光小区`` (property company ``幸福物业``) holds B01, B02 and B03.
- Households: B01 24 (units 1 and 2, 12 each), B02 36, B03 30 (units 1 and 2,
  15 each), B04 18, B05 20; so G1 60, G2 30, G3 38.
- Staff on G1: grid worker 张三 13812341234, part-time 李四光 13900005678,
  volunteers 王五 (red) and 赵六 (white, off duty); B01's head 钱七, the head
  of unit B01/1 孙八.
- Incident categories ``garbage`` (垃圾堆放, 2 h / 24 h, working time) and
  ``parking`` (违停, 1 h / 8 h, calendar time), with no department.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from geoalchemy2 import WKBElement
from sqlalchemy.orm import Session

from gridgis.models import Community, Grid, Layout
from tests.support import factories as make
from tests.support.factories import box, geom

COMMUNITY_CODE = "420106001002"
COMMUNITY_NAME = "南湖花园社区"
LAYOUT_NOW = "2025版"
LAYOUT_OLD = "2024版"
LAYOUT_DRAFT = "2027草案"
GRID_CODES = ("420106001002001", "420106001002002", "420106001002003")
GRID_NAMES = ("第一网格", "第二网格", "第三网格")
GRID_HOUSEHOLDS = (60, 30, 38)
COMPOUND_CODE = "XQ01"
COMPOUND_NAME = "阳光小区"
PROPERTY_COMPANY = "幸福物业"
#: code -> (lon0, lat0, households, name, in the compound?)
BUILDINGS = {
    "B01": (114.3008, 30.5910, 24, "1栋", True),
    "B02": (114.3008, 30.5920, 36, "2栋", True),
    "B03": (114.3025, 30.5915, 30, "3栋", True),
    "B04": (114.3045, 30.5910, 18, "4栋", False),
    "B05": (114.3045, 30.5925, 20, "5栋", False),
}
#: Buildings split into two units of equal households, west and east halves.
SPLIT_BUILDINGS = ("B01", "B03")
BUILDING_W, BUILDING_H = 0.0004, 0.0002  # about 38 m × 22 m


def multi(x0: float, y0: float, x1: float, y1: float) -> WKBElement:
    """A rectangle as the database stores it."""
    return geom(box(x0, y0, x1, y1))


def utc(year: int) -> dt.datetime:
    return dt.datetime(year, 1, 1, tzinfo=dt.UTC)


@dataclass
class Sample:
    community: Community
    layout: Layout
    grids: list[Grid]


def build_sample_community(session: Session, *, code: str = COMMUNITY_CODE) -> Sample:
    """Add the sample community to ``session`` (flushed, not committed)."""
    community = make.community(
        session, code, box(114.300, 30.590, 114.306, 30.594), name=COMMUNITY_NAME
    )
    make.layout(
        session,
        community,
        LAYOUT_OLD,
        grids={
            "OLD-W": (box(114.300, 30.590, 114.303, 30.594), "旧西网格"),
            "OLD-E": (box(114.303, 30.590, 114.306, 30.594), "旧东网格"),
        },
        published=utc(2024),
        valid_to=utc(2025),
    )
    current = make.layout(
        session,
        community,
        LAYOUT_NOW,
        grids={
            grid_code: (box(114.300 + 0.002 * i, 30.590, 114.302 + 0.002 * i, 30.594), name)
            for i, (grid_code, name) in enumerate(zip(GRID_CODES, GRID_NAMES))
        },
        published=utc(2025),
    )
    grids = sorted(current.grids, key=lambda g: g.code)
    make.layout(
        session,
        community,
        LAYOUT_DRAFT,
        grids={"DRAFT-1": (box(114.300, 30.590, 114.306, 30.594), "草案网格")},
    )

    company = make.department(session, f"{code}-WY1", "property_company", name=PROPERTY_COMPANY)
    compound = make.compound(
        session,
        community,
        COMPOUND_CODE,
        box(114.3005, 30.5905, 114.3035, 30.5935),
        name=COMPOUND_NAME,
        property_company=company,
        owners_committee=True,
    )
    buildings = {
        b_code: make.building(
            session,
            community,
            b_code,
            box(x, y, x + BUILDING_W, y + BUILDING_H),
            households=households,
            compound=compound if in_compound else None,
            name=name,
            address=f"南湖路{b_code[1:]}号",
            floors=6,
        )
        for b_code, (x, y, households, name, in_compound) in BUILDINGS.items()
    }
    units = {}
    for b_code in SPLIT_BUILDINGS:
        x, y, households, *_ = BUILDINGS[b_code]
        half = BUILDING_W / 2
        for n in (1, 2):
            x0 = x + half * (n - 1)
            units[f"{b_code}/{n}"] = make.unit(
                session,
                buildings[b_code],
                str(n),
                box(x0, y, x0 + half, y + BUILDING_H),
                households=households // 2,
            )
    people = {
        code_: make.staff(session, community, code_, name, phone)
        for code_, name, phone in [
            ("S1", "张三", "13812341234"),
            ("S2", "李四光", "13900005678"),
            ("S3", "王五", "13700001111"),
            ("S4", "赵六", "13600002222"),
            ("S5", "钱七", "13500003333"),
            ("S6", "孙八", "13400004444"),
        ]
    }
    g1 = grids[0]
    make.assign(session, people["S1"], "grid_worker", grid=g1)
    make.assign(session, people["S2"], "part_time_worker", grid=g1)
    make.assign(session, people["S3"], "volunteer", grid=g1, team="red")
    make.assign(session, people["S4"], "volunteer", grid=g1, team="white", on_duty=False)
    make.assign(session, people["S5"], "building_head", building=buildings["B01"])
    make.assign(session, people["S6"], "unit_head", unit=units["B01/1"])
    make.category(
        session,
        "garbage",
        name_zh="垃圾堆放",
        name_en="Piled rubbish",
        response_hours=2,
        resolution_hours=24,
        deadline_basis="working",
    )
    make.category(session, "parking", name_zh="违停", name_en="Parking", deadline_basis="calendar")
    return Sample(community=community, layout=current, grids=grids)
