"""Rounds ("四进"): grid staff's field activities, logged with place, time, people and findings.

The four rounds are grid inventory (进网格自查盘点), policy publicity in a
compound (进小区宣传政策), collecting requests in a courtyard (进楼院征集诉求)
and help at home (进家门提供帮助) (:data:`gridgis.models.ROUND_KIND_TERMS`).

A round always has a grid, its area: the one given, or the grid of the layout
in force at the round's time that holds its building (a household's
building), its position or its compound — the rule that says which grid a
building belongs to (:func:`gridgis.geo.areas.building_grid`: a point on the
place's surface, the smaller grid, then the lower id). A compound may span
grids: give the grid then. Grid staff log rounds only inside their own area
(:meth:`gridgis.access.scope.Places.holds`) and read their area's rounds and
the ones they took part in.

A finding that needs work becomes an incident through
:mod:`gridgis.incidents.round_findings` (incidents sit above staff).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from geoalchemy2 import WKBElement
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy.orm import Session

from gridgis import audit, clock
from gridgis.access.permissions import Forbidden, Principal
from gridgis.errors import InvalidInput, NotFound
from gridgis.geo.areas import building_grid
from gridgis.geo.crs import to_wgs84
from gridgis.geo.layouts import in_force_clause
from gridgis.models import (
    ROUND_KIND_TERMS,
    SRID,
    Building,
    Compound,
    Grid,
    Household,
    Layout,
    Round,
    RoundParticipant,
    Staff,
)

#: Longest findings kept (a page of notes); longer is refused, not cut.
MAX_FINDINGS = 5000
#: The width of ``others``.
MAX_OTHERS = 500
#: Phones' clocks drift: a round "starting" this little ahead of the server is now.
CLOCK_SKEW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Place:
    """Where a round was: its community and grid always, the rest where given."""

    community_id: int
    grid_id: int
    compound_id: int | None = None
    building_id: int | None = None
    unit_id: int | None = None
    household_id: int | None = None


def log_round(
    session: Session,
    *,
    actor: Principal,
    kind: str,
    started_at: dt.datetime,
    grid_id: int | None = None,
    compound_id: int | None = None,
    building_id: int | None = None,
    household_id: int | None = None,
    lon: float | None = None,
    lat: float | None = None,
    crs: str = "EPSG:4326",
    participants: Sequence[int] = (),
    include_self: bool = True,
    others: str | None = None,
    findings: str = "",
) -> Round:
    """Log one round (flushed and audited; the caller's unit of work commits).

    Args:
        session: The unit of work.
        actor: Who logs it (``rounds:write``; grid staff only inside their area).
        kind: ``inventory``, ``publicity``, ``collection`` or ``home_help``.
        started_at: When it started (aware; not in the future).
        grid_id, compound_id, building_id, household_id: The place: at least
            one of these, or ``lon``/``lat``; the grid is found when not given.
        lon, lat, crs: Where it was (a phone's position: WGS-84).
        participants: Staff ids of the round's community who took part.
        include_self: Count the actor's own staff record among them (default).
        others: Who else took part (residents, partners), free text.
        findings: What was found.

    Raises:
        Forbidden: The actor may not log rounds, or not at that place.
        InvalidInput: An unknown kind, no place, places that do not hang
            together, a start in the future, unknown participants, text too long.
        NotFound: A place id that does not exist.
    """
    actor.require("rounds:write")
    if kind not in ROUND_KIND_TERMS:
        kinds = ", ".join(f"{code} ({t.zh})" for code, t in ROUND_KIND_TERMS.items())
        raise InvalidInput(f"kind must be one of {kinds}; got {kind!r}.")
    started_at = clock.require_aware(started_at, "the round's start")
    if started_at > clock.now() + CLOCK_SKEW:
        raise InvalidInput(
            f"The round's start ({clock.show(started_at)}) is in the future: log a round "
            "once it has started."
        )
    findings = (findings or "").strip()
    if len(findings) > MAX_FINDINGS:
        raise InvalidInput(
            f"Findings hold at most {MAX_FINDINGS} characters (got {len(findings)}): keep the "
            "notes short and report each problem as an incident."
        )
    others = (others or "").strip() or None
    if others is not None and len(others) > MAX_OTHERS:
        raise InvalidInput(f"'others' holds at most {MAX_OTHERS} characters (got {len(others)}).")
    point = _point(lon, lat, crs)
    place = _place(
        session,
        started_at,
        grid_id=grid_id,
        compound_id=compound_id,
        building_id=building_id,
        household_id=household_id,
        point=point,
    )
    if actor.scope is not None and not actor.scope.holds(
        place.grid_id, place.building_id, place.unit_id
    ):
        raise Forbidden("That place is outside your area: log rounds in your own area only.")
    people = _participants(session, place.community_id, participants, actor, include_self)
    found = Round(
        kind=kind,
        community_id=place.community_id,
        grid_id=place.grid_id,
        compound_id=place.compound_id,
        building_id=place.building_id,
        household_id=place.household_id,
        geom=point,
        started_at=started_at,
        others=others,
        findings=findings,
        logged_by=actor.audit_name,
        logged_at=clock.now(),
    )
    session.add(found)
    session.flush()
    session.add_all(RoundParticipant(round_id=found.id, staff_id=s) for s in people)
    session.flush()
    # Ids only: findings and "others" are free text that may name residents.
    audit.record(
        session,
        actor,
        "create",
        "round",
        found.id,
        after={
            "kind": kind,
            "started_at": started_at,
            "community_id": place.community_id,
            "grid_id": place.grid_id,
            "compound_id": place.compound_id,
            "building_id": place.building_id,
            "household_id": place.household_id,
            "participants": people,
        },
    )
    return found


def _point(lon: float | None, lat: float | None, crs: str) -> WKBElement | None:
    if lon is None and lat is None:
        return None
    if lon is None or lat is None:
        raise InvalidInput("Give both lon and lat for the round's position, or neither.")
    x, y = to_wgs84(float(lon), float(lat), crs)
    return from_shape(Point(x, y), srid=SRID)


def _place(
    session: Session,
    at: dt.datetime,
    *,
    grid_id: int | None,
    compound_id: int | None,
    building_id: int | None,
    household_id: int | None,
    point: WKBElement | None,
) -> Place:
    """The round's place, checked to hang together, with its grid found where not given."""
    if all(v is None for v in (grid_id, compound_id, building_id, household_id, point)):
        raise InvalidInput(
            "Say where the round was: a grid, compound, building or household, or a position "
            "(lon/lat)."
        )
    unit_id = None
    if household_id is not None:
        household = session.get(Household, household_id)
        if household is None:
            raise NotFound(f"No household {household_id}.")
        if building_id is not None and building_id != household.building_id:
            raise InvalidInput(
                f"Household {household_id} is not in building {building_id}: give one of them."
            )
        building_id, unit_id = household.building_id, household.unit_id
    building = session.get(Building, building_id) if building_id is not None else None
    if building_id is not None and building is None:
        raise NotFound(f"No building {building_id}.")
    if building is not None:
        if compound_id is not None and building.compound_id != compound_id:
            raise InvalidInput(
                f"Building {building.code} is not in compound {compound_id}: give one of them."
            )
        compound_id = building.compound_id
    compound = session.get(Compound, compound_id) if compound_id is not None else None
    if compound_id is not None and compound is None:
        raise NotFound(f"No compound {compound_id}.")
    # The most precise place decides the grid: the building, then the position, then the compound.
    found: tuple[int | None, int] | None = None
    if building is not None:
        what = f"building {building.code}"
        found = _grid_holding(session, at, Building, building.id)
    elif point is not None:
        what = "that position"
        found = _grid_holding(session, at, None, point)
    elif compound is not None:
        what = f"compound {compound.code}"
        found = _grid_holding(session, at, Compound, compound.id)
    if grid_id is not None:
        given = session.execute(
            sa.select(Layout.community_id, Grid.code)
            .join(Grid, Grid.layout_id == Layout.id)
            .where(Grid.id == grid_id)
        ).one_or_none()
        if given is None:
            raise NotFound(f"No grid {grid_id}.")
        community_id, code = given
        if found is not None and found[1] != community_id:
            raise InvalidInput(f"Grid {code} is in another community than {what}.")
        if building is not None and found is not None and found[0] != grid_id:
            raise InvalidInput(
                f"{what[0].upper()}{what[1:]} is not in grid {code}: give one of them."
            )
        return Place(community_id, grid_id, compound_id, building_id, unit_id, household_id)
    if found is None or found[0] is None:
        raise InvalidInput(
            f"No grid in force on {clock.show(at, '%Y-%m-%d')} holds {what}: say which grid."
        )
    return Place(found[1], found[0], compound_id, building_id, unit_id, household_id)


def _grid_holding(
    session: Session, at: dt.datetime, model: Any, key: Any
) -> tuple[int | None, int] | None:
    """(grid, community) of the layout in force at ``at`` that holds a building, compound or point.

    ``model`` is Building or Compound with ``key`` its id, or None with
    ``key`` a point (any community's layout). The rule is
    :func:`gridgis.geo.areas.building_grid`'s. None: no such layout at all.
    """
    if model is None:
        geom: Any = sa.literal(key, Round.geom.type)
        query = sa.select(building_grid(geom, Layout.id), Layout.community_id)
    else:
        query = sa.select(building_grid(model.geom, Layout.id), Layout.community_id).where(
            model.id == key, Layout.community_id == model.community_id
        )
    rows = session.execute(query.where(in_force_clause(at)).order_by(Layout.community_id)).all()
    held = [(g, c) for g, c in rows if g is not None]
    if held:
        return held[0]
    return (None, rows[0][1]) if rows else None


def _participants(
    session: Session,
    community_id: int,
    given: Iterable[int],
    actor: Principal,
    include_self: bool,
) -> list[int]:
    wanted = {int(s) for s in given}
    if include_self and actor.staff_id is not None:
        wanted.add(actor.staff_id)
    if not wanted:
        return []
    known = set(
        session.scalars(
            sa.select(Staff.id).where(
                Staff.id.in_(sorted(wanted)), Staff.community_id == community_id
            )
        )
    )
    missing = sorted(wanted - known)
    if missing:
        raise InvalidInput(
            "Participants must be staff of the round's community; these staff ids are not: "
            + ", ".join(str(m) for m in missing)
            + "."
        )
    return sorted(wanted)
