"""Principals and reports for the incident tests, on the routing city."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.permissions import ROLE_PERMISSIONS, Principal
from gridgis.access.scope import scope_for_staff
from gridgis.incidents.intake import Report
from gridgis.models import Staff

#: Inside unit 1 of building X (丽景小区1栋), grid A of the routing city.
IN_UNIT_1 = (114.30105, 30.50105)
#: About 10 m east of it, in unit 2.
NEAR_UNIT_1 = (114.30115, 30.50105)
#: Inside grid B, far from X.
IN_GRID_B = (114.306, 30.5005)
#: A Monday morning in Beijing, within the routing city's layout.
MONDAY = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)  # 09:00 in Beijing


def person(role: str, *, user_id: int | None = None, name: str | None = None) -> Principal:
    return Principal(
        kind="user",
        name=name or role,
        role=role,
        permissions=ROLE_PERMISSIONS[role],
        user_id=user_id,
    )


def staff_member(session: Session, code: str) -> Principal:
    """The grid staff account of the routing city's staff member ``code`` (GW, BH ...)."""
    staff_id = session.scalar(sa.select(Staff.id).where(Staff.code == code))
    assert staff_id is not None, code
    return Principal(
        kind="user",
        name=code.lower(),
        role="grid_staff",
        permissions=ROLE_PERMISSIONS["grid_staff"],
        staff_id=staff_id,
        scope=scope_for_staff(session, staff_id),
    )


def report(
    where: tuple[float, float] = IN_UNIT_1, category: str | None = "parking", **fields: object
) -> Report:
    values: dict[str, object] = {
        "channel": "walk_in",
        "category": category,
        "description": "楼下长期违停，堵住消防通道",
        "lon": where[0],
        "lat": where[1],
        "reported_at": MONDAY,
        "reporter_name": "陈居民",
        "reporter_phone": "13911112222",
        **fields,
    }
    return Report(**values)  # type: ignore[arg-type]
