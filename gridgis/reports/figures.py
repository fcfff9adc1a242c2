"""The month's figures as SQL: the pieces the grid and staff tables of the report share.

A :class:`Context` says which community, layout, month and viewer; from it
come each flagged household's month with its grid (:func:`households_of`,
over :func:`gridgis.staff.visits.month_figures`), the incidents' measures as
FILTER clauses (:func:`incident_measures`), and rounds by kind
(:func:`rounds_by`). Definitions: :data:`gridgis.reports.columns.DEFINITIONS`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.geo.areas import building_grid
from gridgis.incidents.breaches import breached_at
from gridgis.incidents.periods import Window
from gridgis.models import (
    CHANNELS,
    ROUND_KINDS,
    Building,
    Household,
    Incident,
    IncidentEvent,
    Round,
    RoundParticipant,
)
from gridgis.reports.columns import ROUND_COLUMNS
from gridgis.staff.residents import in_area
from gridgis.staff.round_listing import rounds_clause
from gridgis.staff.visits import month_figures

#: The life-cycle moves that count as handling an incident (办结上报, 结案).
HANDLING = ("report_done", "close")


@dataclass(frozen=True)
class Context:
    """Whose month: the community, the layout in force, the window, as of when, for whom."""

    community_id: int
    layout_id: int | None
    window: Window
    as_of: dt.datetime
    viewer: Principal

    def in_month(self, column: Any) -> ColumnElement[bool]:
        return sa.and_(column >= self.window.start, column < self.window.end)


def households_of(ctx: Context) -> Any:
    """Each flagged household's month (gridgis.staff.visits) with the grid of its building."""
    where = sa.and_(Household.community_id == ctx.community_id, in_area(ctx.viewer))
    start = clock.local(ctx.window.start)
    figures = month_figures(start.year, start.month, where=where).subquery("figures")
    grid_id = (
        building_grid(Building.geom, ctx.layout_id) if ctx.layout_id is not None else sa.null()
    )
    return (
        sa.select(*figures.c, grid_id.label("grid_id"))
        .join(Building, Building.id == figures.c.building_id)
        .subquery("households")
    )


def visit_sums(rows: Any) -> list[Any]:
    return [
        sa.func.count().label("households"),
        sa.func.coalesce(sa.func.sum(rows.c.required), 0).label("visits_required"),
        sa.func.coalesce(sa.func.sum(rows.c.counted), 0).label("visits_done"),
        sa.func.count().filter(rows.c.never_visited).label("never_visited"),
    ]


def incident_measures(ctx: Context) -> dict[str, Any]:
    """Reported (by channel), handled, overdue: each a FILTER clause on Incident."""
    reported = ctx.in_month(Incident.reported_at)
    handled = (
        sa.select(IncidentEvent.id)
        .where(
            IncidentEvent.incident_id == Incident.id,
            IncidentEvent.action.in_(HANDLING),
            ctx.in_month(IncidentEvent.at),
        )
        .exists()
    )
    return {
        "reported": reported,
        **{f"reported_{c}": sa.and_(reported, Incident.channel == c) for c in CHANNELS},
        "handled": handled,
        "overdue": breached_at("any", ctx.as_of),
    }


def rounds_by(session: Session, ctx: Context, key: Any) -> dict[Any, dict[str, int]]:
    """Rounds started in the month by kind, grouped by ``key`` (a grid or a participant)."""
    query = sa.select(
        key.label("key"),
        *(sa.func.count().filter(Round.kind == k).label(f"rounds_{k}") for k in ROUND_KINDS),
    ).where(
        Round.community_id == ctx.community_id,
        ctx.in_month(Round.started_at),
        rounds_clause(ctx.viewer),
    )
    if key is RoundParticipant.staff_id:
        query = query.select_from(Round).join(
            RoundParticipant, RoundParticipant.round_id == Round.id
        )
    found = {}
    for row in session.execute(query.group_by(key)):
        counts = {c: getattr(row, c) for c in ROUND_COLUMNS}
        found[row.key] = {**counts, "rounds": sum(counts.values())}
    return found
