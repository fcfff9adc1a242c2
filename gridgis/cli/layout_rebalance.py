"""``gridgis layout rebalance``: propose a draft whose grids fall in the household band.

``gridgis layout rebalance NAME --community CODE [--band 300-500] [--grids
N] [--seed S] [--steps K] [--time-limit 60] [--name NEW]`` makes a new draft
from layout NAME (or from scratch with N grids), prints each grid's
households before and after against the band, why any grid stays outside
it, and the draft's checks; exit status 1 when the checks find errors. NAME
and the layout in force are only read. NAME's locked grids (``gridgis layout
lock``) are kept as they are, and the output names them; N counts them too
(the draft's grids in all); when they cut the other buildings in groups
whose land does not touch, each group is rebalanced on its own and a note
names the locked grids between them. The work is in
:mod:`gridgis.planning.rebalance`; this only parses and prints.
"""

from __future__ import annotations

import click

from gridgis.cli.common import cli_actor
from gridgis.cli.layout import table
from gridgis.db import engine_scope, unit_of_work
from gridgis.geo.layouts import choose_layout
from gridgis.planning.drafts import find_community, find_layout
from gridgis.planning.rebalance import (
    DEFAULT_STEPS,
    DEFAULT_TIME_LIMIT,
    Rebalanced,
    parse_band,
    rebalance_layout,
)
from gridgis.planning.tallies import deviation

_STOPPED = {
    "steps": "stopped by the step bound",
    "time limit": "stopped by the time limit",
    "no move": "stopped: no two neighbouring grids can be redrawn in the band",
}


@click.command("rebalance")
@click.argument("name")
@click.option(
    "--community", "community", required=True, metavar="CODE", help="The community's code."
)
@click.option(
    "--band", metavar="LOW-HIGH", help="Households per grid (default: the community's band)."
)
@click.option(
    "--grids",
    type=click.IntRange(min=1),
    help=(
        "Start from scratch with this many grids in all instead of NAME's; NAME's locked "
        "grids are kept and count towards N."
    ),
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the search.")
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=DEFAULT_STEPS,
    show_default=True,
    help="Most steps of the search.",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIME_LIMIT,
    show_default=True,
    help="Most seconds of search.",
)
@click.option(
    "--name", "new_name", metavar="NEW", help="The draft's name (default: NAME rebalanced)."
)
@click.pass_context
def rebalance_command(
    ctx: click.Context,
    name: str,
    community: str,
    band: str | None,
    grids: int | None,
    seed: int,
    steps: int,
    time_limit: float,
    new_name: str | None,
) -> None:
    """Propose a new draft from layout NAME whose grids fall in the household band.

    NAME's locked grids are kept as they are: the same buildings, polygon, name,
    team and lock.
    """
    wanted = parse_band(band) if band else None
    with engine_scope() as engine, unit_of_work(engine) as session:
        layout = find_layout(session, community, name)
        done = rebalance_layout(
            session,
            layout,
            band=wanted,
            grids=grids,
            seed=seed,
            steps=steps,
            time_limit=time_limit,
            name=new_name,
            actor=cli_actor(),
        )
        current = choose_layout(session, find_community(session, community), drafts=False)
        in_force = current.name if current is not None else None
        draft = done.layout.name
    click.echo(rebalance_text(done, draft, community, seed))
    if in_force:
        click.echo(f"It is not in force: routing still uses {in_force!r}.")
    if done.report.errors:
        ctx.exit(1)


def rebalance_text(done: Rebalanced, draft: str, community: str, seed: int) -> str:
    """The summary, each grid before and after against the band, the reasons and the checks."""
    low, high = done.band
    lines = [
        f"Rebalanced layout {done.source!r} of community {community} into draft {draft!r} "
        f"(band {low}-{high}, seed {seed}): {len(done.after.grids)} grids; "
        f"{done.moved_buildings} building(s) with {done.moved_households} household(s) "
        f"change grid; {done.steps} step(s), {_STOPPED[done.stopped]}.",
        (
            f"Painted on a copy of {done.source!r}: grids whose buildings stay keep their "
            "polygons and teams."
            if done.from_copy
            else "Painted from empty: each grid but the locked ones is the union of its "
            "buildings' cells."
            if done.locked
            else "Painted from empty: each grid is the union of its buildings' cells."
        ),
    ]
    if done.locked:
        lines.append(
            f"Kept locked, as in {done.source!r}: {', '.join(done.locked)} (same buildings, "
            "polygon, name, team and lock)."
        )
    lines.append("")
    before = {g.code: g for g in done.before.grids}
    after = {g.code: g for g in done.after.grids}

    def vs(households: int) -> str:
        off = deviation(households, done.band)
        return f"{off:+d}" if off else "0"

    rows = []
    for code in sorted(before.keys() | after.keys()):
        old, new = before.get(code), after.get(code)
        shown = new or old
        rows.append(
            (
                code,
                shown.name if shown else "",
                str(old.households) if old else "-",
                vs(old.households) if old else "-",
                str(new.households) if new else "-",
                vs(new.households) if new else "-",
                str(new.buildings) if new else "-",
                str(new.parts) if new else "-",
            )
        )
    headers = ("grid", "name", "before", "vs band", "after", "vs band", "buildings", "parts")
    lines.append(table(headers, rows, right=set(range(2, 8))))
    if done.reasons:
        lines += ["", "Outside the band, and why:", *(f"  {r}" for r in done.reasons)]
    if done.notes:
        lines += ["", "Notes:", *(f"  {n}" for n in done.notes)]
    report = done.report
    lines += ["", f"Checks: {len(report.errors)} error(s), {len(report.warnings)} warning(s)."]
    lines += [f"  {p.severity}: {p.kind}: {p.message}" for p in report.errors]
    return "\n".join(lines)
