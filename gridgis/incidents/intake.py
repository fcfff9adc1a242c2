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

import collections
import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.errors import GridgisError, OutsideCoverage
from gridgis.incidents.duplicates import nearby_open
from gridgis.incidents.history import append_event
from gridgis.incidents.intake_copy import copy_rows
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
from gridgis.routing import cache as routing_cache
from gridgis.routing.points import PointInput, route_point, route_points
from gridgis.routing.results import RoutingResult

__all__ = ["Intake", "Outcome", "Refused", "Report", "take_in", "take_in_many"]

#: Reports routed together by :func:`take_in_many`: routing 20,000 work orders took
#: 2.2 s in chunks of 2,000, 1.8 s in chunks of 10,000; each chunk reads the
#: rosters of the grids it meets and assembles their teams again, so a chunk is
#: as large as a file ``gridgis route`` routes in one go usually is.
ROUTE_CHUNK = 50_000
#: Reports stored together (one COPY of each table): the rows of a COPY are
#: kept until it succeeds, so a chunk's rows stay a few tens of megabytes.
CHUNK = 10_000
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
    :data:`ROUTE_CHUNK` reports, the work orders already there are looked up
    at once (and not routed again) and the points are routed with
    ``route_points``; then per :data:`CHUNK` of them the incidents, reporters
    and events are stored with one COPY each. Nearby duplicates are not
    looked for here (the console shows them per incident).
    ``progress(done, total)`` is called after each chunk stored.
    """
    outcomes: list[Outcome] = []
    known = categories(session)
    # Whether to route through the in-memory index is decided for the whole
    # batch, as `gridgis route` decides it for a whole file: chunk by chunk,
    # no chunk would ever be worth building it for.
    routing_cache.index_for(session, sum(r.has_point for r in reports))

    def stored(done: int) -> None:
        if progress is not None:
            progress(len(outcomes) + done, len(reports))

    for start in range(0, len(reports), ROUTE_CHUNK):
        outcomes.extend(_chunk(session, reports[start : start + ROUTE_CHUNK], known, actor, stored))
    return outcomes


#: A report of a chunk that is placed: its index, category, time and routing result.
Placed = tuple[int, Category | None, dt.datetime, RoutingResult]


def _chunk(
    session: Session,
    reports: Sequence[Report],
    known: Mapping[str, Category],
    actor: Principal,
    stored: Callable[[int], None],
) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(reports)
    # One moment for the chunk: its incidents are stored together.
    now = clock.now()
    earlier = _earlier_ids(session, [(r.channel, r.external_id) for r in reports])
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
        wanted.append((i, category, report.reported_at or now))
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
    placed: list[Placed] = []
    for i, category, at in wanted:
        try:
            result = refuse_unplaced(
                results.get(i) or by_address(session, reports[i], category, at)
            )
        except GridgisError as exc:
            outcomes[i] = Outcome(error=exc)
            continue
        placed.append((i, category, at, result))
    # A work order twice in the chunk: the first one stands, the others get its id.
    first: dict[tuple[str, str], int] = {}
    fresh: list[Placed] = []
    again: list[int] = []
    for item in placed:
        report = reports[item[0]]
        number = report.external_id
        if number and first.setdefault((report.channel, number), item[0]) != item[0]:
            again.append(item[0])
        else:
            fresh.append(item)
    for start in range(0, len(fresh), CHUNK):
        part = fresh[start : start + CHUNK]
        for i, outcome in _store(session, reports, part, actor, now):
            outcomes[i] = outcome
        stored(len(reports) if start + CHUNK >= len(fresh) else part[-1][0] + 1)
    if not fresh:
        stored(len(reports))
    earlier = _earlier_ids(session, [(reports[i].channel, reports[i].external_id) for i in again])
    for i in again:
        outcomes[i] = Outcome(earlier.get((reports[i].channel, reports[i].external_id or "")))
    return [o or Outcome() for o in outcomes]


def _store(
    session: Session,
    reports: Sequence[Report],
    placed: list[Placed],
    actor: Principal,
    now: dt.datetime,
) -> list[tuple[int, Outcome]]:
    """Store the chunk's incidents (each work order once), then their reporters and events.

    With COPY. The incidents get their ids from the sequence first, so their reporters and
    events can follow in the same way.
    """
    if not placed:
        return []
    session.flush()
    ids = list(
        session.scalars(
            sa.text(
                "SELECT nextval(pg_get_serial_sequence('incident', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": len(placed)},
        )
    )
    numbered: dict[int, Placed] = {}
    refused: list[tuple[int, Outcome]] = []

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        # Made as the COPY sends them: the server takes one row in while the next is made.
        for id_, (i, category, at, result) in zip(ids, placed):
            try:
                row = incident_row(reports[i], category, result, at, actor, now=now, for_copy=True)
            except GridgisError as exc:  # a deadline past the calendar's reach
                refused.append((i, Outcome(error=exc)))
                continue
            numbered[id_] = (i, category, at, result)
            yield id_, row

    stored = _copy_incidents(session, rows())
    outcomes: list[tuple[int, Outcome]] = list(refused)
    reporters: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    event_data: dict[tuple[Any, ...], str] = {}
    taken = {i for i, _ in refused}
    for incident_id in stored:
        i, _, _, result = numbered[incident_id]
        report = reports[i]
        taken.add(i)
        outcomes.append((i, Outcome(incident_id, created=True, rule=result.rule)))
        reporter = reporter_row(report, incident_id)
        if reporter is not None:
            reporters.append(tuple(reporter[c] for c in REPORTER_COLUMNS))
        # A file's intake events say the same few things (its channel, a handful of
        # rules, categories and 12345 fields): each different one is encoded once.
        source = tuple(report.source_fields.items()) if report.source_fields else ()
        said = (report.channel, result.rule, report.category, source)
        data = event_data.get(said)
        if data is None:
            data = event_data[said] = json.dumps(intake_data(report, result), ensure_ascii=False)
        events.append((incident_id, now, actor.audit_name, "take_in", None, "received", data))
    copy_rows(session, "incident_reporter", REPORTER_COLUMNS, reporters)
    copy_rows(session, "incident_event", EVENT_COLUMNS, events)
    # Taken in meanwhile by another import: the one there stands.
    missed = [(i, reports[i].channel, reports[i].external_id) for i, *_ in placed if i not in taken]
    earlier = _earlier_ids(session, [(channel, number) for _, channel, number in missed])
    outcomes += [(i, Outcome(earlier.get((c, n or "")))) for i, c, n in missed]
    return outcomes


def _copy_incidents(session: Session, rows: Iterator[tuple[int, dict[str, Any]]]) -> list[int]:
    """COPY (id, row) pairs into ``incident``, each row made as it is sent; the ids stored.

    A work order taken in meanwhile (another import of the same file at once,
    committed after this chunk looked) makes the COPY fail on the unique
    index: those work orders are looked up and left out, and the rest is
    sent again, until the COPY goes through.
    """
    first = next(rows, None)
    if first is None:
        return []
    first_id, first_row = first
    columns = ("id", *first_row)
    channel, number = columns.index("channel"), columns.index("external_id")
    made: list[tuple[Any, ...]] = []

    def values() -> Iterator[tuple[Any, ...]]:
        for id_, row in itertools.chain([(first_id, first_row)], rows):
            made.append((id_, *row.values()))
            yield made[-1]

    pending: Iterable[tuple[Any, ...]] = values()
    while True:
        try:
            with session.begin_nested():
                copy_rows(session, "incident", columns, pending)
            return [v[0] for v in made]
        except psycopg.errors.UniqueViolation:
            if not isinstance(pending, list):
                collections.deque(pending, maxlen=0)  # the rows not sent yet: made too
            there = _earlier_ids(session, [(v[channel], v[number]) for v in made])
            if not there:
                raise  # not a work order taken in twice: a fault to show
            made = [v for v in made if (v[channel], v[number] or "") not in there]
            pending = list(made)


def _earlier(session: Session, report: Report) -> Incident | None:
    """The incident this channel delivered before under the same external id, if any."""
    if not report.external_id:
        return None
    return session.scalar(
        sa.select(Incident).where(
            Incident.channel == report.channel, Incident.external_id == report.external_id
        )
    )


def _earlier_ids(
    session: Session, keys: Iterable[tuple[str, str | None]]
) -> dict[tuple[str, str], int]:
    """(channel, external id) → incident id, for those of ``keys`` already taken in."""
    by_channel: dict[str, set[str]] = {}
    for channel, number in keys:
        if number:
            by_channel.setdefault(channel, set()).add(number)
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
