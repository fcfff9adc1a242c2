"""Small additions to the sample community for the planning tests: incidents and layouts."""

from __future__ import annotations

import datetime as dt
import uuid

import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.models import Building, Incident, Layout
from tests.support import factories as make
from tests.support.sample_community import Sample

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
