"""Small factories for test worlds: one call, one row, sensible defaults.

Tests build the places and people they need from these (warehouse's
``tests/common/db`` factories work the same way), and the two shared worlds
(:mod:`tests.support.sample_community`, :mod:`tests.support.routing_city`)
are compositions of them. Every factory adds and flushes, never commits: the
caller's session decides (a rolled-back ``db_session``, or a committed setup).

Polygons are given as shapely geometries in lon/lat; :func:`box` makes the
usual rectangle.
"""

from __future__ import annotations

import datetime as dt
from itertools import count
from typing import Any

import shapely
from geoalchemy2 import WKBElement
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy.orm import Session

from gridgis.access import accounts
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
    User,
)
from tests.support.actors import TESTS

#: Every test account's password (the policy wants 10+ characters, not only digits).
PASSWORD = "Grid-test-passw0rd"

_serial = count(1)


def box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    """The rectangle from (x0, y0) to (x1, y1), lon/lat."""
    return shapely.box(x0, y0, x1, y1)


def geom(polygon: shapely.Geometry) -> WKBElement:
    """A polygon as the database stores it: a MultiPolygon in EPSG:4326."""
    multi = polygon if isinstance(polygon, MultiPolygon) else MultiPolygon([polygon])
    return from_shape(multi, srid=SRID)


def _add(session: Session, row: Any) -> Any:
    session.add(row)
    session.flush()
    return row


def community(
    session: Session,
    code: str | None = None,
    boundary: shapely.Geometry | None = None,
    *,
    name: str | None = None,
    **fields: Any,
) -> Community:
    code = code or f"C{next(_serial)}"
    return _add(
        session,
        Community(
            code=code,
            name=name or f"社区{code}",
            boundary=geom(boundary or box(114.30, 30.50, 114.31, 30.51)),
            **fields,
        ),
    )


def layout(
    session: Session,
    where: Community,
    name: str | None = None,
    *,
    grids: dict[str, shapely.Geometry | tuple[shapely.Geometry, str]] | None = None,
    published: dt.datetime | None = None,
    valid_to: dt.datetime | None = None,
) -> Layout:
    """A layout with ``grids`` (code → polygon, or (polygon, name)), published if asked.

    With ``valid_to`` the periods are written directly (a closed layout of the
    past); otherwise publishing goes through :func:`publish_layout`, rules
    and audit included.
    """
    drawn = _add(session, Layout(community_id=where.id, name=name or f"L{next(_serial)}"))
    for code, shape in (grids or {}).items():
        polygon, grid_name = shape if isinstance(shape, tuple) else (shape, None)
        grid(session, drawn, code, polygon, name=grid_name)
    if published is not None and valid_to is not None:
        drawn.status, drawn.valid_from, drawn.valid_to = "published", published, valid_to
        session.flush()
    elif published is not None:
        publish_layout(session, drawn, published, actor=TESTS)
    return drawn


def grid(
    session: Session,
    where: Layout,
    code: str,
    polygon: shapely.Geometry,
    *,
    name: str | None = None,
) -> Grid:
    return _add(
        session, Grid(layout_id=where.id, code=code, name=name or f"网格{code}", geom=geom(polygon))
    )


def department(
    session: Session,
    code: str,
    kind: str = "other",
    *,
    name: str | None = None,
    jurisdiction: shapely.Geometry | None = None,
) -> Department:
    return _add(
        session,
        Department(
            code=code,
            name=name or code,
            kind=kind,
            jurisdiction=geom(jurisdiction) if jurisdiction is not None else None,
        ),
    )


def compound(
    session: Session,
    where: Community,
    code: str,
    polygon: shapely.Geometry,
    *,
    name: str | None = None,
    property_company: Department | None = None,
    owners_committee: bool = False,
) -> Compound:
    return _add(
        session,
        Compound(
            community_id=where.id,
            code=code,
            name=name or code,
            property_company_id=property_company.id if property_company else None,
            has_owners_committee=owners_committee,
            geom=geom(polygon),
        ),
    )


def building(
    session: Session,
    where: Community,
    code: str,
    polygon: shapely.Geometry,
    *,
    households: int | None = None,
    compound: Compound | None = None,
    **fields: Any,
) -> Building:
    return _add(
        session,
        Building(
            community_id=where.id,
            compound_id=compound.id if compound else None,
            code=code,
            households=households,
            geom=geom(polygon),
            **fields,
        ),
    )


def unit(
    session: Session,
    where: Building,
    number: str,
    polygon: shapely.Geometry,
    *,
    households: int | None = None,
) -> Unit:
    return _add(
        session,
        Unit(building_id=where.id, number=number, households=households, geom=geom(polygon)),
    )


def staff(
    session: Session, where: Community, code: str, name: str, phone: str | None = None
) -> Staff:
    return _add(session, Staff(community_id=where.id, code=code, name=name, phone=phone))


def assign(
    session: Session,
    person: Staff,
    role: str,
    *,
    grid: Grid | None = None,
    building: Building | None = None,
    unit: Unit | None = None,
    team: str | None = None,
    on_duty: bool = True,
) -> Assignment:
    """One role of ``person``: a grid role names the grid, a head its building or unit."""
    return _add(
        session,
        Assignment(
            staff_id=person.id,
            role=role,
            grid_id=grid.id if grid else None,
            building_id=building.id if building else None,
            unit_id=unit.id if unit else None,
            volunteer_team=team,
            on_duty=on_duty,
        ),
    )


def category(
    session: Session,
    code: str,
    *,
    departments: tuple[Department, ...] = (),
    response_hours: float = 1,
    resolution_hours: float = 8,
    **fields: Any,
) -> Category:
    made = Category(
        code=code,
        name_zh=fields.pop("name_zh", code),
        name_en=fields.pop("name_en", code),
        response_hours=response_hours,
        resolution_hours=resolution_hours,
        **fields,
    )
    made.departments = list(departments)
    return _add(session, made)


def user(session: Session, username: str, role: str, *, staff_code: str | None = None) -> User:
    """An account with the tests' password (created through the domain: audited)."""
    return accounts.create_user(
        session, username, PASSWORD, role, staff_code=staff_code, actor=TESTS
    )
