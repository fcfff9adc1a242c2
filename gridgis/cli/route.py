"""``gridgis route``: route every row of a CSV, XLSX or GeoJSON file."""

from __future__ import annotations

from pathlib import Path

import click

from gridgis.clock import parse_time
from gridgis.db import engine_scope, unit_of_work
from gridgis.routing.results import RULES


@click.command("route")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=("Output file: .csv (UTF-8) or .xlsx for table input, .geojson for GeoJSON input."),
)
@click.option(
    "--community", "community_code", default=None, help="Route only within this community."
)
@click.option(
    "--lon-field", default=None, help="Longitude column (default: found by name, e.g. lon or 经度)."
)
@click.option(
    "--lat-field", default=None, help="Latitude column (default: found by name, e.g. lat or 纬度)."
)
@click.option(
    "--crs",
    default=None,
    help="CRS of the coordinates: EPSG code, gcj02 or bd09 (default EPSG:4326).",
)
@click.option("--category-field", default=None, help="Column holding the category code.")
@click.option(
    "--at",
    "at_text",
    default=None,
    help="Incident time, ISO 8601 with zone (default: now); picks the layout in force.",
)
def route_command(
    input_path: Path,
    out_path: Path,
    community_code: str | None,
    lon_field: str | None,
    lat_field: str | None,
    crs: str | None,
    category_field: str | None,
    at_text: str | None,
) -> None:
    """Route every row of INPUT to its grid team; write the rows with routing columns.

    INPUT is a table (.csv/.tsv/.txt in UTF-8 or GB18030, or the first sheet of
    an .xlsx workbook) with longitude/latitude columns, or a GeoJSON file of points.
    """
    from gridgis.routing.files import route_file

    at = parse_time(at_text, "--at")
    with engine_scope() as engine, unit_of_work(engine) as session:
        table = route_file(
            session,
            input_path,
            out_path,
            lon_field=lon_field,
            lat_field=lat_field,
            crs=crs,
            category_field=category_field,
            at=at,
            community_code=community_code,
        )
    counts = table.summary()
    click.echo(f"Routed {len(table.results)} rows from {input_path} to {out_path}:")
    for rule in RULES:
        if counts.get(rule):
            click.echo(f"  {rule:<18} {counts[rule]:>8}")
