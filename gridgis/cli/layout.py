"""``gridgis layout``: a community's layouts (网格方案), drafts, their tallies and checks.

``gridgis layout list --community CODE`` lists the layouts and where each
stands; ``gridgis layout draft --community CODE [--name NAME]`` copies the
layout in force into a new draft (audited; routing unchanged) and prints its
name; ``gridgis layout show NAME --community CODE`` prints the tallies of
each grid; ``gridgis layout assign NAME --community CODE --buildings
B001,B002 --to GRIDCODE [--new-name NAME]`` moves buildings of a draft into
a grid with the land that goes with them (audited, undoable with ``gridgis
layout undo``, refused on locked grids; routing unchanged) and prints what
moved and the new tallies of the grids touched; ``gridgis
layout check NAME --community CODE`` prints every problem and exits with
status 1 when there are errors; ``gridgis layout diff NAME --community
CODE [--against NAME] [--format FMT] [--out FILE]`` prints (or writes) the
buildings that change grid against the layout in force or another, with
each grid's totals before and after; ``gridgis layout export NAME
--community CODE OUT.gpkg`` writes the grids, which grid each building is
in and the edit log to a GeoPackage. The work is in
:mod:`gridgis.planning`; these only parse and print.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path

import click

from gridgis import clock
from gridgis.cli import layout_edits
from gridgis.cli.common import cli_actor
from gridgis.cli.layout_publish import publish_command
from gridgis.db import engine_scope, unit_of_work
from gridgis.errors import InvalidFile
from gridgis.planning.checks import Report, check_layout
from gridgis.planning.diff import Diff, Figures, diff_named
from gridgis.planning.drafts import (
    draft_layout,
    find_community,
    find_layout,
    layouts_of,
    standing,
)
from gridgis.planning.edits import paint
from gridgis.planning.export import export_layout
from gridgis.planning.painting import parse_codes
from gridgis.planning.tallies import tally_layout

_COMMUNITY = click.option(
    "--community", "community", required=True, metavar="CODE", help="The community's code."
)


@click.group("layout")
def layout_group() -> None:
    """Layouts (网格方案): list, draft, tally, paint, undo, lock, check, diff, export, publish."""


# Publishing and the edit history (undo, redo, lock, unlock, log) have their own
# modules (gridgis/cli/layout_publish.py, layout_edits.py); they join the group here.
layout_group.add_command(publish_command)
for _command in layout_edits.COMMANDS:
    layout_group.add_command(_command)


@layout_group.command("list")
@_COMMUNITY
def list_command(community: str) -> None:
    """List the layouts of a community: in force, draft, future or past."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        found = find_community(session, community)
        layouts = layouts_of(session, found)
        title = f"Layouts of community {found.code} ({found.name}):"
    if not layouts:
        click.echo(f"Community {community} has no layouts yet; import grids to make one.")
        return
    click.echo(title)
    rows = [
        (
            s.name,
            s.standing,
            clock.show(s.valid_from) if s.valid_from else "-",
            clock.show(s.valid_to) if s.valid_to else "-",
            str(s.grids),
        )
        for s in layouts
    ]
    click.echo(table(("name", "standing", "valid from", "valid to", "grids"), rows, right={4}))


@layout_group.command("draft")
@_COMMUNITY
@click.option("--name", metavar="NAME", help="The draft's name (default: draft <date time>).")
def draft_command(community: str, name: str | None) -> None:
    """Copy the layout in force into a new draft; print the draft's name."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        made = draft_layout(
            session, find_community(session, community), name=name, actor=cli_actor()
        )
        draft_name = made.layout.name
    click.echo(
        f"Created draft layout {draft_name!r} of community {community} from {made.source!r}: "
        f"{made.grids} grids, {made.assignments} grid team assignments."
    )
    click.echo(f"It is not in force: routing still uses {made.source!r}.")


@layout_group.command("show")
@click.argument("name")
@_COMMUNITY
def show_command(name: str, community: str) -> None:
    """Print the tallies of each grid of layout NAME."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        layout = find_layout(session, community, name)
        where = standing(layout, clock.now())
        tallies = tally_layout(session, layout)
    low, high = tallies.band
    click.echo(
        f"Layout {tallies.layout!r} of community {tallies.community} ({where}): "
        f"{len(tallies.grids)} grids; household band {low}-{high}."
    )
    if tallies.band_note:
        click.echo(f"Note: {tallies.band_note}.")
    headers = (
        "code",
        "name",
        "households",
        "vs band",
        "units",
        "buildings",
        "staff",
        "open",
        "90 days",
        "parts",
        "compactness",
        "area m²",
        "split compounds",
    )
    rows = [
        (
            g.code,
            g.name,
            str(g.households),
            f"{g.deviation:+d}" if g.deviation else "0",
            str(g.units),
            str(g.buildings),
            str(g.staff),
            str(g.open_incidents),
            str(g.recent_incidents),
            str(g.parts),
            f"{g.compactness:.2f}",
            f"{g.area_m2:,.0f}",
            ", ".join(g.split_compounds) or "-",
        )
        for g in tallies.grids
    ]
    click.echo(table(headers, rows, right=set(range(2, 12))))
    households = sum(g.households for g in tallies.grids)
    buildings = sum(g.buildings for g in tallies.grids)
    click.echo(f"Total: {households} households in {buildings} buildings.")
    if tallies.unplaced_buildings:
        click.echo(
            f"In no grid: {tallies.unplaced_buildings} buildings with "
            f"{tallies.unplaced_households} households (see gridgis layout check)."
        )


@layout_group.command("assign")
@click.argument("name")
@_COMMUNITY
@click.option(
    "--buildings", required=True, metavar="B001,B002", help="Codes of the buildings to move."
)
@click.option("--to", "grid", required=True, metavar="GRIDCODE", help="The grid they join.")
@click.option(
    "--new-name", metavar="NAME", help="Make grid GRIDCODE, with this name, in the draft."
)
def assign_command(
    name: str, community: str, buildings: str, grid: str, new_name: str | None
) -> None:
    """Move buildings of draft NAME into a grid, with the land that goes with them."""
    codes = parse_codes(buildings)
    with engine_scope() as engine, unit_of_work(engine) as session:
        layout = find_layout(session, community, name)
        # Through the edit history, so `gridgis layout undo` can take it back.
        painted, _ = paint(session, layout, codes, grid, new_name=new_name, actor=cli_actor())
        tallies = tally_layout(session, layout)
    made = f" (new grid {new_name!r})" if painted.created else ""
    click.echo(
        f"Layout {name!r} of community {community}: {len(painted.moved)} building(s) with "
        f"{painted.households} household(s) moved to grid {painted.grid}{made}."
    )
    for m in painted.moved:
        click.echo(
            f"  {m.building}: {m.before or '(no grid)'} → {m.after} ({m.households} households)"
        )
    if painted.stayed:
        click.echo(f"Already in grid {painted.grid}: {', '.join(painted.stayed)}.")
    if painted.removed:
        click.echo(
            f"Left without buildings or land, removed from the draft: grid(s) "
            f"{', '.join(painted.removed)}, with {painted.assignments} grid team assignment(s)."
        )
    headers = ("code", "name", "households", "vs band", "units", "buildings", "parts", "area m²")
    rows = [
        (
            g.code,
            g.name,
            str(g.households),
            f"{g.deviation:+d}" if g.deviation else "0",
            str(g.units),
            str(g.buildings),
            str(g.parts),
            f"{g.area_m2:,.0f}",
        )
        for g in tallies.grids
        if g.code in painted.touched
    ]
    click.echo(table(headers, rows, right=set(range(2, 8))))


@layout_group.command("check")
@click.argument("name")
@_COMMUNITY
@click.pass_context
def check_command(ctx: click.Context, name: str, community: str) -> None:
    """Print every problem of layout NAME; exit with status 1 when there are errors."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        layout = find_layout(session, community, name)
        report = check_layout(session, layout)
    click.echo(check_text(report))
    errors = len(report.errors)
    if errors:
        ctx.exit(1)


def check_text(report: Report) -> str:
    """The checks as `gridgis layout check` prints them: a count, then a line per problem."""
    lines = [
        f"Layout {report.layout!r} of community {report.community}: "
        f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)."
    ]
    for p in report.problems:
        where = []
        if p.point is not None:
            where.append(f"at {p.point[0]:.6f},{p.point[1]:.6f}")
        if p.bbox is not None:
            where.append("bbox " + ",".join(f"{v:.6f}" for v in p.bbox))
        suffix = f" [{'; '.join(where)}]" if where else ""
        lines.append(f"{p.severity}: {p.kind}: {p.message}{suffix}")
    return "\n".join(lines)


@layout_group.command("diff")
@click.argument("name")
@_COMMUNITY
@click.option(
    "--against",
    metavar="NAME",
    help="The layout to compare with (default: the one in force).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv", "geojson"]),
    default="text",
    show_default=True,
    help="text: a summary and tables; json: moves and grids; csv: one row per building "
    "moved; geojson: the buildings that move.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of printing.",
)
def diff_command(
    name: str, community: str, against: str | None, fmt: str, out: Path | None
) -> None:
    """Print the buildings, units and households that change grid in layout NAME."""
    if out is not None and not out.parent.is_dir():
        raise InvalidFile(f"{out}: the folder {out.parent} does not exist.")
    with engine_scope() as engine, unit_of_work(engine) as session:
        diff = diff_named(session, community, name, against=against)
    if fmt == "json":
        body = diff.as_json().encode("utf-8")
    elif fmt == "csv":
        body = diff.as_csv()
    elif fmt == "geojson":
        body = diff.as_geojson().encode("utf-8")
    else:
        body = (diff_text(diff) + "\n").encode("utf-8")
    if out is None:
        click.echo(body, nl=False)
        return
    out.write_bytes(body)
    click.echo(
        f"Wrote the diff of {diff.layout!r} against {diff.against!r} to {out}: {_moved(diff)}."
    )


def _moved(diff: Diff) -> str:
    moved = diff.moved
    return (
        f"{moved.buildings} building(s), {moved.units} unit(s) and "
        f"{moved.households} household(s) change grid"
    )


def _change(before: Figures | None, after: Figures | None, field: str) -> str:
    """``60 → 36``; ``-`` for a layout the grid is not in."""
    old = "-" if before is None else str(getattr(before, field))
    new = "-" if after is None else str(getattr(after, field))
    return old if old == new else f"{old} → {new}"


def diff_text(diff: Diff) -> str:
    """The diff as a summary line, the buildings that move and every grid's totals."""
    lines = [
        f"Layout {diff.layout!r} of community {diff.community} against {diff.against!r}: "
        f"{_moved(diff)}."
    ]
    if diff.moves:
        rows = [
            (
                m.building,
                m.name or "",
                str(m.units),
                str(m.households),
                m.before or "(no grid)",
                m.after or "(no grid)",
            )
            for m in diff.moves
        ]
        headers = ("building", "name", "units", "households", "from", "to")
        lines += ["", table(headers, rows, right={2, 3})]
    rows = [
        (
            g.code,
            g.name,
            g.change,
            _change(g.before, g.after, "buildings"),
            _change(g.before, g.after, "units"),
            _change(g.before, g.after, "households"),
        )
        for g in diff.grids
    ]
    headers = ("grid", "name", "change", "buildings", "units", "households")
    lines += ["", table(headers, rows, right={3, 4, 5})]
    return "\n".join(lines)


@layout_group.command("export")
@click.argument("name")
@_COMMUNITY
@click.argument("out", metavar="OUT.gpkg", type=click.Path(dir_okay=False, path_type=Path))
def export_command(name: str, community: str, out: Path) -> None:
    """Write layout NAME to a GeoPackage: grids, building_grid and edit_log layers."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        written = export_layout(session, find_layout(session, community, name), out)
    click.echo(
        f"Exported layout {name!r} of community {community} to {written.path}: "
        f"{written.grids} grids, {written.buildings} buildings, "
        f"{written.entries} edit log entries."
    )


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: set[int]) -> str:
    """A plain-text table, columns padded by display width (numbers in ``right`` aligned right)."""
    widths = [max(_width(r[i]) for r in (headers, *rows)) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - _width(cell))
            padded.append(pad + cell if i in right else cell + pad)
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])
