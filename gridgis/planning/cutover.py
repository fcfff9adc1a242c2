"""Rerouting open incidents at a layout's cut-over (改派), when its publisher asked.

A layout published with ``--reroute-open`` (``layout.reroute_open``) has its
community's open incidents rerouted once its ``valid_from`` has come:
:func:`reroute_due` runs on ``gridgis worker``'s deadline-check schedule, and
:func:`gridgis.planning.publish.publish_draft` calls :func:`reroute_layout`
itself when the layout starts at once. Without ``--reroute-open`` nothing here
touches an incident: it stays with the team that has it (DESIGN.md, Routing
rule 6).

An incident is rerouted when it is open (not merged), was routed under an
earlier layout, and its point (else its building's) routes, with the normal
routing code at the layout's start, to another grid code than its stored
snapshot's. It then gets the new snapshot (layout, grid, building, unit, team,
departments), keeps its status — there is no reassignment move in the life
cycle, and the new team takes the work where it stands — and gains a
``reroute`` event naming the grids and the layout, with the snapshot it had
in the event's data, so what happened before stays on record. Incidents that
a team holds (dispatched, in progress, checked) are announced to the outbox
as a dispatch, as dispatching them did the first time. The layout's
``rerouted_at`` is then set, so a second run finds nothing to do; the layout's
row is taken ``FOR UPDATE SKIP LOCKED``, so two workers never reroute one
cut-over twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gridgis import audit, clock
from gridgis.access.permissions import Principal, cli_principal
from gridgis.audit import Actor
from gridgis.db import unit_of_work
from gridgis.geo.layouts import community_code
from gridgis.incidents import outbox
from gridgis.incidents.history import append_event
from gridgis.incidents.lifecycle import message_about
from gridgis.models import OPEN_STATUSES, Building, Category, Grid, Incident, Layout
from gridgis.routing.points import PointInput, route_points

logger = logging.getLogger(__name__)

#: Who reroutes at a cut-over the worker finds due (the history names it ``cli:worker``).
WORKER: Principal = cli_principal("worker")
#: Statuses in which a grid team holds the incident (reached by 派遣): the new team is told.
HELD = ("dispatched", "in_progress", "checked")
#: Routing results that place nothing: such an incident is left as it is.
UNPLACED = ("invalid_location", "outside_coverage")


@dataclass(frozen=True)
class Rerouted:
    """One open incident given a new routing snapshot at a cut-over."""

    incident: int
    status: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Rerouting:
    """The rerouting of one layout's cut-over: which layout, when, which incidents."""

    community: str
    layout: str
    valid_from: dt.datetime
    incidents: list[Rerouted]


def due_clause(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Layouts whose publisher asked for rerouting, started by ``now``, not yet rerouted."""
    return sa.and_(
        Layout.status == "published",
        Layout.reroute_open.is_(True),
        Layout.valid_from <= now,
        Layout.rerouted_at.is_(None),
    )


def reroute_next(
    session: Session, *, actor: Actor = WORKER, now: dt.datetime | None = None
) -> Rerouting | None:
    """Reroute the earliest due cut-over no other worker holds (flushed); None: none due."""
    now = now or clock.now()
    layout = session.scalar(
        sa.select(Layout)
        .where(due_clause(now))
        .order_by(Layout.valid_from, Layout.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if layout is None:
        return None
    return reroute_layout(session, layout, actor=actor, now=now)


def reroute_due(engine: Engine, stop: threading.Event | None = None) -> int:
    """The worker's job: every due cut-over, one unit of work each; how many were done."""
    done = 0
    while stop is None or not stop.is_set():
        with unit_of_work(engine) as session:
            rerouting = reroute_next(session)
        if rerouting is None:
            break
        done += 1
        logger.info(
            "cut-over of layout %r of community %s (from %s): %d open incident(s) rerouted",
            rerouting.layout,
            rerouting.community,
            rerouting.valid_from.isoformat(),
            len(rerouting.incidents),
        )
    return done


def reroute_layout(
    session: Session, layout: Layout, *, actor: Actor, now: dt.datetime | None = None
) -> Rerouting:
    """Reroute the open incidents of ``layout``'s community whose grid it changes; mark it done.

    The caller holds the layout's row (publishing it, or :func:`reroute_next`).
    Flushed, and audited as ``reroute`` of the layout; the caller commits.
    """
    now = now or clock.now()
    code = community_code(session, layout)
    start = layout.valid_from
    if layout.rerouted_at is not None or start is None or not layout.reroute_open:
        return Rerouting(code, layout.name, start or now, [])
    stored = sa.select(Grid.code).where(Grid.id == Incident.grid_id).scalar_subquery()
    # The incident's own point where it has one (what intake routed), else its building's.
    point = sa.func.coalesce(Incident.geom, sa.func.ST_PointOnSurface(Building.geom))
    rows = session.execute(
        sa.select(
            Incident,
            stored.label("grid_code"),
            sa.func.ST_X(point).label("lon"),
            sa.func.ST_Y(point).label("lat"),
            Category.code.label("category"),
        )
        .outerjoin(Building, Building.id == Incident.building_id)
        .outerjoin(Category, Category.id == Incident.category_id)
        .where(
            Incident.community_id == layout.community_id,
            Incident.status.in_(OPEN_STATUSES),
            Incident.merged_into_id.is_(None),
            # Routed at or after the start: already under this layout, nothing to redo.
            Incident.layout_id.is_distinct_from(layout.id),
        )
        .order_by(Incident.id)
        # A dispatcher's move on one of them waits for this transaction, then sees it.
        .with_for_update(of=Incident)
        .execution_options(populate_existing=True)
    ).all()
    placed = [r for r in rows if r.lon is not None]
    results = route_points(
        session,
        # At the start, not now: a worker that comes late still reroutes to this
        # layout's grids (a later cut-over reroutes again only if its publisher asks).
        [PointInput(r.lon, r.lat, crs="EPSG:4326", category=r.category, at=start) for r in placed],
        community_code=code,
        # The statement, not the in-memory index: it sees this transaction's own
        # publishing (the publish-now path), which an index built before cannot.
        use_cache=False,
    )
    done: list[Rerouted] = []
    for row, result in zip(placed, results, strict=True):
        incident: Incident = row.Incident
        if result.rule in UNPLACED or result.layout_id != layout.id:
            logger.warning(
                "incident %d not rerouted at the cut-over of layout %r: routing says %s",
                incident.id,
                layout.name,
                result.rule,
            )
            continue
        if result.grid_code == row.grid_code:
            continue
        _reroute(session, incident, row.grid_code, result.snapshot(), layout, actor, now)
        done.append(Rerouted(incident.id, incident.status, row.grid_code, result.grid_code))
    layout.rerouted_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "reroute",
        "layout",
        f"{code}/{layout.name}",
        before={"rerouted_at": None},
        after={"rerouted_at": now, "incidents": [r.incident for r in done]},
    )
    return Rerouting(code, layout.name, start, done)


def _reroute(
    session: Session,
    incident: Incident,
    before: str | None,
    snapshot: dict[str, Any],
    layout: Layout,
    actor: Actor,
    now: dt.datetime,
) -> None:
    """Give ``incident`` its new snapshot, with its event and, if a team holds it, a message."""
    previous = incident.routing
    incident.layout_id = snapshot["layout_id"]
    incident.grid_id = snapshot["grid_id"]
    incident.building_id = snapshot["building_id"]
    incident.unit_id = snapshot["unit_id"]
    incident.rule = snapshot["rule"]
    incident.routing = snapshot
    incident.updated_at = now
    session.flush()
    after = snapshot["grid_code"]
    start = clock.show(layout.valid_from)
    append_event(
        session,
        incident,
        actor,
        "reroute",
        incident.status,
        incident.status,
        note=(
            f"网格方案 {layout.name} 自 {start} 起施行，改派：网格 {before or '无'} → "
            f"{after or '无（社区受理员）'}"
        ),
        data={
            "why": "cut_over",
            "layout": layout.name,
            "valid_from": layout.valid_from.isoformat() if layout.valid_from else None,
            "from_grid": before,
            "to_grid": after,
            "previous_routing": previous,
        },
    )
    if incident.status in HELD:
        outbox.notify(session, "dispatched", message_about(incident, "reroute"))
