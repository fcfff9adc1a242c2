"""Small additions to the sample community for the planning tests: incidents and layouts."""

from __future__ import annotations

import datetime as dt
import uuid

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.demo.loader import demo_community_code
from gridgis.geo.layouts import choose_layout, get_community
from gridgis.models import Building, Incident, Layout
from tests.support import factories as make
from tests.support.factories import box
from tests.support.sample_community import GRID_CODES, Sample

#: "Now" for the planning tests (a Thursday, 10:00 in Beijing).
NOW = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)


def incident(
    session: Session,
    sample: Sample,
    *,
    status: str,
    days_ago: int,
    building: str | None = None,
    point: tuple[float, float] | None = None,
    merged_into: Incident | None = None,
) -> Incident:
    """An incident of the sample community as intake stores it (the parts tallies read)."""
    building_id = (
        session.scalar(
            sa.select(Building.id).where(
                Building.community_id == sample.community.id, Building.code == building
            )
        )
        if building
        else None
    )
    made = Incident(
        token=str(uuid.uuid4()),
        status=status,
        channel="walk_in",
        description="test",
        geom=f"SRID=4326;POINT({point[0]} {point[1]})" if point else None,
        reported_at=NOW - dt.timedelta(days=days_ago),
        created_by="cli:tests",
        community_id=sample.community.id,
        layout_id=sample.layout.id,
        building_id=building_id,
        rule="building" if building_id else "grid",
        routing={},
        merged_into_id=merged_into.id if merged_into else None,
    )
    session.add(made)
    session.flush()
    return made


def layout_of(
    session: Session, sample: Sample, name: str, grids: dict[str, shapely.Geometry]
) -> Layout:
    """A draft layout of the sample community with ``grids`` (code -> polygon)."""
    return make.layout(session, sample.community, name, grids=grids)


def in_force(session: Session) -> Layout:
    """The demo community's layout in force."""
    layout = choose_layout(session, get_community(session, demo_community_code()))
    assert layout is not None
    return layout


#: The sample community's three grid columns with a gap (0.0001° wide) between the first two.
GAPPY = {
    GRID_CODES[0]: box(114.300, 30.590, 114.302, 30.594),
    GRID_CODES[1]: box(114.3021, 30.590, 114.304, 30.594),
    GRID_CODES[2]: box(114.304, 30.590, 114.306, 30.594),
}
