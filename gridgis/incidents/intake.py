"""Taking incidents in: locate, route, keep the routing snapshot, set the deadlines.

Every channel comes through here: one report at a time with :func:`take_in`
(the console: a click on the map, coordinates in any CRS including
``gcj02``/``bd09``, or an address; Open311; ``POST /api/v1/incidents``), or a
file's worth with :func:`take_in_many` (hotline work-order files), which
routes the points of a chunk with the batch path (``route_points``) and
stores the incidents, their reporters and events with one statement each.
Both apply the same checks and store the same rows, from
:mod:`gridgis.incidents.reports`.

A report the channel has already delivered (same channel and external id: the
hotline's work-order number) is not taken in twice: the first incident is
returned.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.errors import GridgisError, OutsideCoverage
from gridgis.incidents.duplicates import nearby_open
from gridgis.incidents.history import append_event
from gridgis.incidents.reports import (
    Refused,
    Report,
    by_address,
    categories,
    category_of,
    check,
    incident_row,
    intake_data,
    point_of,
    refuse_unplaced,
    reporter_row,
)
from gridgis.models import Category, Incident, IncidentReporter
from gridgis.routing.points import PointInput, route_point, route_points
from gridgis.routing.results import RoutingResult

__all__ = ["Intake", "Outcome", "Refused", "Report", "take_in", "take_in_many"]

#: Reports routed and stored together by :func:`take_in_many`.
CHUNK = 2000
REPORTER_COLUMNS = ("incident_id", "name", "phone")
EVENT_COLUMNS = ("incident_id", "at", "actor", "action", "from_status", "to_status", "data")


@dataclass
class Intake:
    """The incident taken in (or found again), and what the dispatcher should look at."""

    incident: Incident
    created: bool
    result: RoutingResult | None = None
    duplicates: list[Incident] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What became of one report of a batch: taken in, already there, or refused."""

    incident_id: int | None = None
    created: bool = False
    #: The routing rule that placed it (``unit``, ``address``, ``nearest_grid`` ...).
    rule: str | None = None
    error: GridgisError | None = None

    @property
    def reason(self) -> str | None:
        """Why it was refused, in a word (``no_location``, ``outside_coverage`` ...)."""
        if self.error is None:
            return None
        if isinstance(self.error, OutsideCoverage):
            return "outside_coverage"
        return self.error.reason if isinstance(self.error, Refused) else "invalid"


def take_in(session: Session, report: Report, *, actor: Principal) -> Intake:
    """Locate, route and store a report as a ``received`` incident (flushed, not committed).

    Raises:
        InvalidInput: An unknown channel or category, no location, a bad
            coordinate or time, an address that matches no building (or
            several: the candidates are named); :class:`Refused` says why in a word.
        OutsideCoverage: The place lies outside every community gridgis covers.
    """
    check(report)
    earlier = _earlier(session, report)
    if earlier is not None:
        return Intake(earlier, created=False)
    category = category_of(categories(session), report.category)
    reported_at = report.reported_at or clock.now()
    if report.has_point:
        lon, lat = point_of(report)
        code = category.code if category else None
        result = route_point(session, lon, lat, crs=report.crs, category=code, at=reported_at)
    else:
        result = by_address(session, report, category, reported_at)
    row = incident_row(report, category, refuse_unplaced(result), reported_at, actor)
    incident = Incident(**row)
    if report.external_id:
        # Two deliveries of one work order at once: the second waits for the
        # first's commit at the unique index, then returns the first.
        try:
            with session.begin_nested():
                session.add(incident)
                session.flush()
        except IntegrityError:
            earlier = _earlier(session, report)
            if earlier is None:
                raise
            return Intake(earlier, created=False)
    else:
        session.add(incident)
        session.flush()
    reporter = reporter_row(report, incident.id)
    if reporter is not None:
        session.add(IncidentReporter(**reporter))
    append_event(
        session, incident, actor, "take_in", None, "received", data=intake_data(report, result)
    )
    duplicates = nearby_open(session, incident) if incident.geom is not None else []
    return Intake(incident, created=True, result=result, duplicates=duplicates)


def take_in_many(
    session: Session,
    reports: Sequence[Report],
    *,
    actor: Principal,
    progress: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Take in many reports: one outcome per report, in order (flushed, not committed).

    The checks of :func:`take_in`, report by report: one that cannot be taken
    in gets its error in its outcome, and the others go in. Per chunk of
    :data:`CHUNK` reports, the work orders already there are looked up at once
    (and not routed again), the points are routed with ``route_points``, and
    the incidents, reporters and events are stored with one statement each.
    Nearby duplicates are not looked for here (the console shows them per
    incident). ``progress(done, total)`` is called after each chunk.
    """
    outcomes: list[Outcome] = []
    known = categories(session)
    for start in range(0, len(reports), CHUNK):
        outcomes.extend(_chunk(session, reports[start : start + CHUNK], known, actor))
        if progress is not None:
            progress(len(outcomes), len(reports))
    return outcomes


def _chunk(
    session: Session,
    reports: Sequence[Report],
    known: Mapping[str, Category],
    actor: Principal,
) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(reports)
    earlier = _earlier_ids(session, reports)
    wanted: list[tuple[int, Category | None, dt.datetime]] = []
    for i, report in enumerate(reports):
        try:
            check(report)
            if report.external_id and (report.channel, report.external_id) in earlier:
                outcomes[i] = Outcome(earlier[report.channel, report.external_id])
                continue
            category = category_of(known, report.category)
        except GridgisError as exc:
            outcomes[i] = Outcome(error=exc)
            continue
        wanted.append((i, category, report.reported_at or clock.now()))
    # The batch path for the points; addresses one by one (they are few).
    pointed = [w for w in wanted if reports[w[0]].has_point]
    points = [
        PointInput(
            reports[i].lon,
            reports[i].lat,
            crs=reports[i].crs,
            category=c.code if c else None,
            at=at,
        )
        for i, c, at in pointed
    ]
    routed = route_points(session, points)
    results = {w[0]: r for w, r in zip(pointed, routed, strict=True)}
    rows: list[tuple[int, dict[str, Any], RoutingResult]] = []
    for i, category, at in wanted:
        try:
            result = results.get(i) or by_address(session, reports[i], category, at)
            row = incident_row(reports[i], category, refuse_unplaced(result), at, actor)
        except GridgisError as exc:
            outcomes[i] = Outcome(error=exc)
            continue
        rows.append((i, row, result))
    for i, outcome in _store(session, reports, rows, actor):
        outcomes[i] = outcome
    return [o or Outcome() for o in outcomes]


def _store(
    session: Session,
    reports: Sequence[Report],
    rows: list[tuple[int, dict[str, Any], RoutingResult]],
    actor: Principal,
) -> list[tuple[int, Outcome]]:
    """Store the chunk's incidents, then their reporters and events, with COPY.

    The incidents get their ids from the sequence first, so their reporters and
    events can follow in the same way. A work order taken in meanwhile (another
    import of the same file at once) makes the COPY fail on the unique index:
    then the chunk goes in with ``INSERT ... ON CONFLICT DO NOTHING``, and that
    work order is already there.
    """
    if not rows:
        return []
    session.flush()
    first: dict[tuple[str, str], int] = {}
    fresh: list[tuple[int, dict[str, Any], RoutingResult]] = []
    for i, row, result in rows:
        key = (row["channel"], row["external_id"] or "")
        if row["external_id"] and first.setdefault(key, i) != i:
            continue  # twice in one chunk: the first one stands
        fresh.append((i, row, result))
    ids = _copy_incidents(session, [row for _, row, _ in fresh])
    outcomes: list[tuple[int, Outcome]] = []
    reporters: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    now = clock.now()
    for (i, _, result), incident_id in zip(fresh, ids, strict=True):
        report = reports[i]
        if incident_id is None:
            continue
        outcomes.append((i, Outcome(incident_id, created=True, rule=result.rule)))
        reporter = reporter_row(report, incident_id)
        if reporter is not None:
            reporters.append(tuple(reporter[c] for c in REPORTER_COLUMNS))
        data = json.dumps(intake_data(report, result), ensure_ascii=False)
        events.append((incident_id, now, actor.audit_name, "take_in", None, "received", data))
    _copy(session, "incident_reporter", REPORTER_COLUMNS, reporters)
    _copy(session, "incident_event", EVENT_COLUMNS, events)
    taken = {i for i, _ in outcomes}
    missed = [reports[i] for i, _, _ in rows if i not in taken]
    earlier = _earlier_ids(session, missed)
    for i, _, _ in rows:
        if i not in taken:
            key = (reports[i].channel, reports[i].external_id or "")
            outcomes.append((i, Outcome(earlier.get(key))))
    return outcomes


def _copy_incidents(session: Session, rows: list[dict[str, Any]]) -> list[int | None]:
    """Store incident rows; their ids in order (None: that work order was there already)."""
    ids = list(
        session.scalars(
            sa.text(
                "SELECT nextval(pg_get_serial_sequence('incident', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": len(rows)},
        )
    )
    columns = tuple(rows[0])
    values = [(id_, *(_copy_value(c, row[c]) for c in columns)) for id_, row in zip(ids, rows)]
    try:
        with session.begin_nested():
            _copy(session, "incident", ("id", *columns), values)
        return ids
    except psycopg.errors.UniqueViolation:
        stored = insert(Incident).on_conflict_do_nothing(index_elements=["channel", "external_id"])
        found = session.execute(stored.returning(Incident.token, Incident.id), rows)
        by_token = {token: id_ for token, id_ in found}
        return [by_token.get(row["token"]) for row in rows]


def _copy_value(column: str, value: Any) -> Any:
    """A column's value as COPY's text format takes it (JSON text, EWKT)."""
    if value is None:
        return None
    if column == "routing":
        return json.dumps(value, ensure_ascii=False)
    if column == "geom":
        return f"SRID={value.srid};{to_shape(value).wkt}"
    return value


def _copy(
    session: Session, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    if not rows:
        return
    # The session's own connection: the rows land in its transaction.
    connection = cast(psycopg.Connection[Any], session.connection().connection.driver_connection)
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _earlier(session: Session, report: Report) -> Incident | None:
    """The incident this channel delivered before under the same external id, if any."""
    if not report.external_id:
        return None
    return session.scalar(
        sa.select(Incident).where(
            Incident.channel == report.channel, Incident.external_id == report.external_id
        )
    )


def _earlier_ids(session: Session, reports: Sequence[Report]) -> dict[tuple[str, str], int]:
    """(channel, external id) → incident id, for those of ``reports`` already taken in."""
    by_channel: dict[str, set[str]] = {}
    for r in reports:
        if r.external_id:
            by_channel.setdefault(r.channel, set()).add(r.external_id)
    found: dict[tuple[str, str], int] = {}
    for channel, numbers in by_channel.items():
        # One lookup per channel, on the unique index (channel, external_id).
        rows = session.execute(
            sa.select(Incident.external_id, Incident.id).where(
                Incident.channel == channel,
                Incident.external_id == sa.any_(sa.cast(sorted(numbers), ARRAY(sa.String))),
            )
        )
        found.update(((channel, external or ""), id_) for external, id_ in rows)
    return found
