"""``gridgis import`` and ``gridgis export``: layers in and out of the database.

Each command runs in one transaction: an import that fails changes nothing,
and the error names the file, the feature and what to fix (the group in
``gridgis.cli`` prints domain errors and exits with status 1).

Grids imported as a draft (a file drawn or edited in QGIS, such as the
``grids`` layer of ``gridgis layout export``) are then checked and compared
with the layout in force, printed as ``gridgis layout check`` and ``gridgis
layout diff`` print them, with the commands to go on. A draft may be broken
(only publishing is refused on check errors), so the import still exits 0.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from gridgis.cli.common import cli_actor
from gridgis.cli.layout import check_text, diff_text
from gridgis.db import engine_scope, unit_of_work
from gridgis.geo.layouts import choose_layout
from gridgis.models import Community
from gridgis.planning.checks import check_layout
from gridgis.planning.diff import diff_layouts
from gridgis.planning.drafts import find_layout
from gridgis.shapes.exporting import export_layer
from gridgis.shapes.importing import IMPORT_LAYERS, LAYERS, import_layer

#: Files with fewer features than this import without a progress bar.
PROGRESS_FROM = 1000


class _ProgressBar:
    """Draws a progress bar on stderr once a file proves long."""

    def __init__(self) -> None:
        self._bar: object | None = None
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        if total < PROGRESS_FROM:
            return
        if self._bar is None:
            self._bar = click.progressbar(length=total, label="Importing", file=sys.stderr)
            self._bar.__enter__()  # type: ignore[attr-defined]
        self._bar.update(done - self._shown)  # type: ignore[attr-defined]
        self._shown = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)  # type: ignore[attr-defined]
            self._bar = None


@click.command("import")
@click.argument("layer", type=click.Choice(IMPORT_LAYERS), metavar="LAYER")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--community",
    "community",
    required=True,
    metavar="CODE",
    help="The community's code; created from the file if it does not exist.",
)
@click.option(
    "--code-field",
    metavar="FIELD",
    help="Field with the codes (default code/id/编码/编号); units: the unit number.",
)
@click.option("--name-field", metavar="FIELD", help="Field with the names (default name/名称).")
@click.option(
    "--crs",
    metavar="EPSG",
    help="CRS of the coordinates, e.g. EPSG:4547 (overrides the file); households: gcj02 too.",
)
@click.option("--fix", is_flag=True, help="Repair invalid geometries and report each repair.")
@click.option(
    "--layout",
    "layout",
    metavar="NAME",
    help="Grids: name of the new layout. Staff: layout of the grid codes.",
)
@click.option("--publish", is_flag=True, help="Grids: publish the new layout now.")
@click.option(
    "--file-layer",
    metavar="NAME",
    help="GeoPackage: the layer to read (default: its only layer, or the one named LAYER).",
)
def import_command(
    layer: str,
    file: Path,
    community: str,
    code_field: str | None,
    name_field: str | None,
    crs: str | None,
    fix: bool,
    layout: str | None,
    publish: bool,
    file_layer: str | None,
) -> None:
    """Import FILE as LAYER of a community (all or nothing).

    LAYER is community, grids, compounds, buildings, units, staff or
    households. FILE is GeoJSON, a Shapefile (.shp or .zip), a GeoPackage or
    CSV (WKT or lon/lat columns; staff: code,name,phone,role,grid,building,
    unit,team,on_duty; households, CSV or XLSX: code,building,unit,room,
    head_name,phone,members,care_flags,note,registered, or lon/lat instead of
    building and unit). Grids go into a new draft layout (then checked and
    compared with the layout in force) unless --publish is given; households are
    updated by code when imported again. From a GeoPackage with several layers
    (e.g. one `gridgis layout export` wrote) the layer named LAYER is read, or
    the one --file-layer names.
    """
    bar = _ProgressBar()
    try:
        with engine_scope() as engine, unit_of_work(engine) as session:
            report = import_layer(
                session,
                layer,
                file,
                community_code=community,
                code_field=code_field,
                name_field=name_field,
                crs=crs,
                fix=fix,
                layout_name=layout,
                publish=publish,
                file_layer=file_layer,
                progress=bar,
                actor=cli_actor(),
            )
    finally:
        bar.close()
    click.echo(report.summary())
    if layer == "grids" and report.layout is not None and not report.published:
        _review_draft(community, report.layout)


def _review_draft(community: str, name: str) -> None:
    """Print the checks of the new draft, its diff against the layout in force, what next."""
    click.echo("")
    # Errors do not fail the import: the draft is stored, and a draft may be
    # broken (only publishing is refused on errors).
    with engine_scope() as engine, unit_of_work(engine) as session:
        draft = find_layout(session, community, name)
        report = check_layout(session, draft)
        errors = len(report.errors)
        in_force = choose_layout(
            session, session.get_one(Community, draft.community_id), drafts=False
        )
        diff = diff_layouts(session, draft, in_force) if in_force is not None else None
    click.echo(check_text(report))
    click.echo("")
    if diff is None:
        click.echo(
            f"Community {community} has no layout in force to compare {name!r} with; "
            "compare it with another layout with gridgis layout diff --against NAME."
        )
    else:
        click.echo(diff_text(diff))
    click.echo("")
    args = f"{shlex.quote(name)} --community {shlex.quote(community)}"
    if errors:
        blocks = "1 error blocks" if errors == 1 else f"{errors} errors block"
        click.echo(
            f"{blocks} publishing: correct the grids (in QGIS, then import the file again "
            "as a new draft) until gridgis layout check finds none."
        )
    else:
        click.echo("No errors: the draft can be published.")
    click.echo("Next:")
    click.echo(f"  gridgis layout check {args}")
    click.echo(f"  gridgis layout diff {args}")
    click.echo(f"  gridgis layout publish {args} --from TIME --dry-run")
    click.echo("(TIME with its zone, e.g. 2027-01-01T00:00+08:00; without --dry-run it publishes.)")


@click.command("export")
@click.argument("layer", type=click.Choice(LAYERS), metavar="LAYER")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--community", "community", required=True, metavar="CODE", help="The community's code."
)
@click.option(
    "--layout",
    "layout",
    metavar="NAME",
    help="Grids and staff: the layout (default: in force, else the newest draft).",
)
def export_command(layer: str, out: Path, community: str, layout: str | None) -> None:
    """Export LAYER of a community to OUT (.geojson, .json, .gpkg, .shp or .csv).

    The file holds the fields `gridgis import` reads, so it imports back as
    the same data.
    """
    with engine_scope() as engine, unit_of_work(engine) as session:
        count = export_layer(
            session, layer, out, community_code=community, layout_name=layout, actor=cli_actor()
        )
    click.echo(f"Exported {count} {layer} of community {community} to {out}.")
