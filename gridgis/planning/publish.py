"""Cut-over (切换): what publishing a draft changes, and publishing it from a date.

:func:`plan_cut_over` answers, writing nothing: the checks' errors (which
block publishing), the code each draft grid carries on
(:mod:`~gridgis.planning.codes`), the open incidents whose grid changes, the
staff whose grid assignments move or end, the grids that disappear and the
grids whose households change (:mod:`~gridgis.planning.diff`).
:func:`publish_draft` then does it in the caller's one unit of work: codes
and teams, then :func:`gridgis.geo.layouts.publish_layout` — the one home of
the period rule: the draft is in force from ``valid_from``, the layout in
force until then ends at that instant, so routing answers with the old grids
before the date and the new ones after it.

Open incidents stay with the team that has them: their stored routing
snapshot is not rewritten (DESIGN.md, Routing rule 6) — unless the publisher
asks for them to be rerouted (``reroute_open``). Then the layout keeps that
wish (``layout.reroute_open``, audited with the publish), and at
``valid_from`` :mod:`~gridgis.planning.cutover` gives each open incident
whose grid changes a new routing snapshot, with an event saying why:
``gridgis worker`` does it once the date has come, or :func:`publish_draft`
itself, in its own transaction, when the layout starts at once. The plan
lists those incidents either way, saying whether they will be rerouted or
kept; which grid they get is the buildings' rule on the draft
(:mod:`gridgis.geo.areas`), and at the date the routing code decides — the
same grid, but for a point in no grid, which routing may give to the
nearest one.

A start in the past is refused rather than clamped: incidents routed since
then were routed with the old layout, and a period that starts before now
would say otherwise about the same moments; clamping would publish at a time
nobody asked for.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import audit, clock
from gridgis.audit import Actor
from gridgis.clock import require_aware
from gridgis.errors import Conflict, InvalidInput
from gridgis.geo.areas import building_grid
from gridgis.geo.layouts import check_start, choose_layout, community_code, publish_layout
from gridgis.models import (
    OPEN_STATUSES,
    Assignment,
    Building,
    Community,
    Grid,
    Incident,
    Layout,
    Staff,
)
from gridgis.models.roles import GRID_ROLES
from gridgis.planning.checks import Problem, check_layout
from gridgis.planning.codes import Recode, apply_codes, plan_codes
from gridgis.planning.cutover import Rerouted, reroute_layout
from gridgis.planning.diff import Diff, diff_layouts


@dataclass(frozen=True)
class IncidentChange:
    """An open incident whose grid is another under the new layout."""

    incident: int
    status: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class StaffMove:
    """A staff member whose grid assignments in one role change (after empty: no grid)."""

    staff: str
    role: str
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True)
class CutOver:
    """What publishing ``layout`` from ``valid_from`` changes (see the module docstring)."""

    community: str
    layout: str
    replaces: str | None
    valid_from: dt.datetime
    errors: list[Problem]
    codes: list[Recode]
    incidents: list[IncidentChange]
    staff: list[StaffMove]
    disappearing: dict[str, tuple[str, ...]]
    diff: Diff | None
    #: Whether the open incidents in ``incidents`` are rerouted at ``valid_from`` (else kept).
    reroute_open: bool = False
    #: The incidents rerouted by publishing itself (a layout that starts at once).
    rerouted: tuple[Rerouted, ...] = ()

    @property
    def left_without_grid(self) -> list[StaffMove]:
        """Staff with a grid today and none under the new layout."""
        return [m for m in self.staff if not m.after]

    @property
    def recoded(self) -> list[Recode]:
        """Draft grids whose code or name changes at publishing."""
        return [r for r in self.codes if r.changes]


def plan_cut_over(
    session: Session, layout: Layout, valid_from: dt.datetime, *, reroute_open: bool = False
) -> CutOver:
    """What publishing draft ``layout`` from ``valid_from`` would do; writes nothing.

    ``reroute_open``: the plan says the open incidents whose grid changes are
    rerouted at ``valid_from`` (else that they stay with their team).

    Raises:
        Conflict: The layout is not a draft, or a published layout starts at or
            after ``valid_from``.
        InvalidInput: ``valid_from`` has no time zone or is in the past.
    """
    code = community_code(session, layout)
    if layout.status != "draft":
        raise Conflict(f"Layout {layout.name!r} of community {code} is published already.")
    valid_from = require_aware(valid_from, "--from")
    now = clock.now()
    if valid_from < now:
        raise InvalidInput(
            f"--from {clock.show(valid_from)} is in the past (now {clock.show(now)}); "
            "a layout starts now or later, since incidents routed since then used the "
            "layout in force."
        )
    check_start(session, layout, valid_from)
    community = session.get_one(Community, layout.community_id)
    # The layout the draft replaces is the one in force at its start (publish_layout
    # refuses a start before a later published layout's, so that is today's or a future one).
    in_force = choose_layout(session, community, drafts=False, at=valid_from)
    errors = check_layout(session, layout).errors
    codes = plan_codes(session, layout, in_force)
    final = {r.grid_id: r.after for r in codes}
    diff = diff_layouts(session, layout, in_force) if in_force is not None else None
    before = _teams(session, in_force, {}) if in_force is not None else {}
    # A grid whose code changes loses the team it was copied with (codes.apply_codes).
    after = _teams(session, layout, final, skip={r.grid_id for r in codes if r.changes})
    for r in codes:
        if r.takes_team:
            for key, grids in before.items():
                if r.inherits in grids:
                    after.setdefault(key, set()).add(r.after)
    moves = [
        StaffMove(staff, role, tuple(sorted(before.get(k, ()))), tuple(sorted(after.get(k, ()))))
        for k in sorted(set(before) | set(after))
        for staff, role in [k]
        if before.get(k, set()) != after.get(k, set())
    ]
    finals = set(final.values())
    old_codes: list[str] = []
    if in_force is not None:
        old_codes = sorted(
            session.scalars(sa.select(Grid.code).where(Grid.layout_id == in_force.id))
        )
    disappearing = {
        c: tuple(sorted(s for (s, _r), grids in before.items() if c in grids))
        for c in old_codes
        if c not in finals
    }
    return CutOver(
        code,
        layout.name,
        in_force.name if in_force is not None else None,
        valid_from,
        errors,
        codes,
        _incidents(session, layout, final),
        moves,
        disappearing,
        diff,
        reroute_open,
    )


def publish_draft(
    session: Session,
    layout: Layout,
    valid_from: dt.datetime,
    *,
    actor: Actor,
    reroute_open: bool = False,
) -> CutOver:
    """Publish draft ``layout`` from ``valid_from``: codes, teams and periods, audited.

    ``reroute_open``: the open incidents whose grid changes are rerouted at
    ``valid_from`` (:mod:`~gridgis.planning.cutover`): now, in this unit of
    work, when ``valid_from`` has come already; else by ``gridgis worker``
    once it comes. The returned plan's ``rerouted`` lists those done now.

    Flushed; committed by the caller's unit of work, so all of it lands or none.

    Raises:
        InvalidInput: The checks found errors (listed), or ``valid_from`` is
            naive or in the past.
        Conflict: The layout is not a draft, or a later layout is published.
    """
    plan = plan_cut_over(session, layout, valid_from, reroute_open=reroute_open)
    if plan.errors:
        listed = "\n".join(f"  {p.kind}: {p.message}" for p in plan.errors)
        raise InvalidInput(
            f"Layout {layout.name!r} of community {plan.community} has {len(plan.errors)} "
            f"error(s) and cannot be published (gridgis layout check):\n{listed}"
        )
    in_force = None
    if plan.replaces is not None:
        in_force = session.scalar(
            sa.select(Layout).where(
                Layout.community_id == layout.community_id, Layout.name == plan.replaces
            )
        )
    apply_codes(session, plan.codes, in_force)
    if plan.recoded:
        audit.record(
            session,
            actor,
            "recode",
            "layout",
            f"{plan.community}/{layout.name}",
            before={"codes": [r.before for r in plan.recoded]},
            after={
                "codes": [r.after for r in plan.recoded],
                "inherits": [r.inherits for r in plan.recoded],
            },
        )
    publish_layout(session, layout, plan.valid_from, actor=actor)
    if not reroute_open:
        return plan
    layout.reroute_open = True
    session.flush()
    audit.record(
        session,
        actor,
        "reroute_open",
        "layout",
        f"{plan.community}/{layout.name}",
        before={"reroute_open": False},
        after={"reroute_open": True, "at": plan.valid_from},
    )
    if plan.valid_from > clock.now():
        return plan  # the worker reroutes them when the date comes
    # Published to start at once: the routing of open incidents changes now, in
    # the same transaction, rather than after a worker's next look.
    done = reroute_layout(session, layout, actor=actor)
    return replace(plan, rerouted=tuple(done.incidents))


def _teams(
    session: Session, layout: Layout, codes: dict[int, str], *, skip: set[int] | None = None
) -> dict[tuple[str, str], set[str]]:
    """(staff code, role) -> the codes (``codes`` once published) of their grids in ``layout``."""
    teams: dict[tuple[str, str], set[str]] = defaultdict(set)
    rows = session.execute(
        sa.select(Staff.code, Assignment.role, Grid.id, Grid.code)
        .join(Assignment, Assignment.staff_id == Staff.id)
        .join(Grid, Grid.id == Assignment.grid_id)
        .where(Grid.layout_id == layout.id, Assignment.role.in_(GRID_ROLES))
    )
    for staff, role, grid_id, grid_code in rows:
        if skip and grid_id in skip:
            continue
        teams[(staff, role)].add(codes.get(grid_id, grid_code))
    return teams


def _incidents(session: Session, layout: Layout, codes: dict[int, str]) -> list[IncidentChange]:
    """Open incidents whose stored grid differs from their grid under ``layout``."""
    stored = sa.select(Grid.code).where(Grid.id == Incident.grid_id).scalar_subquery()
    # The building's grid where the incident matched a building (areas' rule),
    # else the grid covering its point: the same rule, on a point.
    where = sa.func.coalesce(Building.geom, Incident.geom)
    rows = session.execute(
        sa.select(
            Incident.id,
            Incident.status,
            stored.label("before"),
            building_grid(where, layout.id).label("after"),
        )
        .outerjoin(Building, Building.id == Incident.building_id)
        .where(
            Incident.community_id == layout.community_id,
            Incident.status.in_(OPEN_STATUSES),
        )
        .order_by(Incident.id)
    ).all()
    changes = []
    for row in rows:
        after = codes.get(row.after) if row.after is not None else None
        if row.before != after:
            changes.append(IncidentChange(row.id, row.status, row.before, after))
    return changes
