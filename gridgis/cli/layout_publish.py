"""``gridgis layout publish``: the cut-over of a draft, shown, then done from a date.

``gridgis layout publish NAME --community CODE --from 2027-01-01T00:00+08:00
[--dry-run] [--reroute-open]`` prints what publishing changes — the check's
errors (then exit 1), the grid codes inherited or new, open incidents whose
grid changes (kept by their team, or with ``--reroute-open`` rerouted to
their new grid at the date), staff whose grid moves or ends, grids that
disappear and grids whose households change — and, without ``--dry-run``,
publishes the draft from that time in one transaction. Rerouting happens at
the date: ``gridgis worker`` does it then (or publishing, for a start that
has come). The work is in :mod:`gridgis.planning.publish` and
:mod:`gridgis.planning.cutover`; this only parses and prints.
"""

from __future__ import annotations

import datetime as dt

import click

from gridgis import clock
from gridgis.cli.common import cli_actor
from gridgis.db import engine_scope, unit_of_work
from gridgis.errors import InvalidInput
from gridgis.planning.drafts import find_layout
from gridgis.planning.publish import CutOver, plan_cut_over, publish_draft


def _next_minute() -> dt.datetime:
    """``--from now``: the next full minute, in the display zone.

    Not the instant itself: a start in the past is refused, and the instant
    read here is past by the time the plan compares it with the clock.
    """
    now = clock.local(clock.now())
    return now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)


@click.command("publish")
@click.argument("name")
@click.option("--community", required=True, metavar="CODE", help="The community's code.")
@click.option(
    "--from",
    "valid_from",
    required=True,
    metavar="TIME",
    help="When the layout comes into force, with its zone: 2027-01-01T00:00+08:00; "
    "or now (the next full minute).",
)
@click.option("--dry-run", is_flag=True, help="Print the cut-over; write nothing.")
@click.option(
    "--reroute-open",
    is_flag=True,
    help="At --from, reroute open incidents whose grid changes to their new grid's team "
    "(gridgis worker does it; default: they stay with the team that has them).",
)
@click.pass_context
def publish_command(
    ctx: click.Context,
    name: str,
    community: str,
    valid_from: str,
    dry_run: bool,
    reroute_open: bool,
) -> None:
    """Publish draft NAME from --from: print the cut-over, then do it (unless --dry-run)."""
    start = (
        _next_minute()
        if valid_from.strip().lower() == "now"
        else clock.parse_time(valid_from, "--from")
    )
    if start is None:
        raise InvalidInput("--from needs a time, e.g. 2027-01-01T00:00+08:00.")
    with engine_scope() as engine, unit_of_work(engine) as session:
        layout = find_layout(session, community, name)
        plan = plan_cut_over(session, layout, start, reroute_open=reroute_open)
        click.echo(cut_over_text(plan))
        if plan.errors:
            click.echo(
                f"Not published: {len(plan.errors)} error(s) (see gridgis layout check).", err=True
            )
            ctx.exit(1)
        if dry_run:
            click.echo("Dry run: nothing was written.")
            return
        done = publish_draft(session, layout, start, actor=cli_actor(), reroute_open=reroute_open)
    replaces = f"; {plan.replaces!r} ends then" if plan.replaces else ""
    click.echo(
        f"Published {plan.layout!r} of community {plan.community} "
        f"from {clock.show(plan.valid_from)}{replaces}."
    )
    if not reroute_open:
        return
    if done.valid_from > clock.now():
        click.echo(
            f"Open incidents whose grid changes are rerouted at {clock.show(done.valid_from)} "
            "by gridgis worker (it must be running then)."
        )
    else:
        click.echo(f"Rerouted {len(done.rerouted)} open incident(s) to their new grid.")


def cut_over_text(plan: CutOver) -> str:
    """The cut-over as a planner reads it, section by section."""
    replaces = repr(plan.replaces) if plan.replaces else "no layout"
    lines = [
        f"Cut-over of community {plan.community}: {plan.layout!r} replaces {replaces} "
        f"from {clock.show(plan.valid_from)}."
    ]
    if plan.errors:
        lines.append(f"Errors ({len(plan.errors)}), publishing refused:")
        lines += [f"  {p.kind}: {p.message}" for p in plan.errors]
    lines.append(f"Grid codes ({len(plan.recoded)} change):")
    for r in plan.codes:
        if r.inherits is not None and r.changes:
            how = f"inherits {r.inherits} ({r.share:.0%} of its households), name {r.name!r}"
        elif r.inherits is not None:
            how = f"keeps its code ({r.share:.0%} of the households)"
        else:
            how = "new grid, next free code" if r.changes else "new grid"
        if r.takes_team:
            how += ", and its grid team"
        arrow = f"{r.before} → {r.after}" if r.changes else r.after
        lines.append(f"  {arrow}: {how}")
    lines.append(f"Open incidents whose grid changes ({len(plan.incidents)}):")
    lines += [
        f"  #{i.incident} ({i.status}): {i.before or '(no grid)'} → {i.after or '(no grid)'}, "
        + (
            f"rerouted to {i.after or 'the community dispatchers'} at {clock.show(plan.valid_from)}"
            if plan.reroute_open
            else "stays with its team"
        )
        for i in plan.incidents
    ]
    moves = [m for m in plan.staff if m.after]
    lines.append(f"Staff assignments that move ({len(moves)}):")
    lines += [
        f"  {m.staff} ({m.role}): {', '.join(m.before) or '-'} → {', '.join(m.after)}"
        for m in moves
    ]
    lines.append(f"Staff left without a grid ({len(plan.left_without_grid)}):")
    lines += [f"  {m.staff} ({m.role}): was {', '.join(m.before)}" for m in plan.left_without_grid]
    lines.append(f"Grids that disappear ({len(plan.disappearing)}):")
    lines += [
        f"  {code}: staff {', '.join(staff) or '-'}" for code, staff in plan.disappearing.items()
    ]
    changed = [g for g in plan.diff.grids if g.before != g.after] if plan.diff is not None else []
    lines.append(f"Grids whose households change ({len(changed)}, draft codes):")
    lines += [
        f"  {g.code} ({g.change}): "
        f"{g.before.households if g.before else '-'} → {g.after.households if g.after else '-'}"
        for g in changed
    ]
    return "\n".join(lines)
