"""``gridgis route``: route every row of a CSV, XLSX, GeoJSON or Parquet file.

Column-wise (:mod:`gridgis.routing.tabular`): coordinates are routed as
arrays and the answers written from Arrow columns, as CSV, XLSX, GeoJSON,
GeoPackage or Parquet by the output's name.

The command line has its own row limit, ten times the web's default
(``GRIDGIS_MAX_BATCH_ROWS``, 100,000): it is run by an administrator on the
server, on a file they chose, so the limit only guards against a mistaken
file exhausting the server's memory, not against an attacker; a year of a
district's 12345 work orders fits. Routing held about 2.6 KB a row when it
made one result object per row (a 100,000-row batch raised the peak memory by
260 MiB); column-wise it holds less a row, but a large file also loads the
in-memory index (bench/routing.py's city of 885,000 polygons: 100,000 rows
from Parquet in 16 s and 2.5 GB peak, most of both the index). ``--max-rows``
lowers or raises the limit for the machine at hand.
"""

from __future__ import annotations

from pathlib import Path

import click

from gridgis.clock import parse_time
from gridgis.db import engine_scope, unit_of_work
from gridgis.routing.results import RULES

#: The most rows ``gridgis route`` reads from one file unless --max-rows says otherwise.
CLI_MAX_ROWS = 1_000_000


@click.command("route")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=(
        "Output file: .csv (UTF-8), .xlsx or .parquet for table input (CSV, XLSX, Parquet), "
        ".geojson for GeoJSON input; .gpkg (GeoPackage, WGS-84 points) for either."
    ),
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
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    default=CLI_MAX_ROWS,
    show_default=True,
    help="Refuse a file with more rows than this, before reading it all.",
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
    max_rows: int,
) -> None:
    """Route every row of INPUT to its grid team; write the rows with routing columns.

    INPUT is a table (.csv/.tsv/.txt in UTF-8 or GB18030, the first sheet of an
    .xlsx workbook, or a .parquet file) with longitude/latitude columns, a
    Parquet file with a geometry column of points (WKB or WKT), or a GeoJSON
    file of points.
    """
    from gridgis.routing.files import route_file
    from gridgis.routing.reading import TooManyRows

    at = parse_time(at_text, "--at")
    with engine_scope() as engine, unit_of_work(engine) as session:
        try:
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
                # Whoever runs the command may see every answer; the output
                # names staff by code only, so there is nothing to mask.
                max_rows=max_rows,
            )
        except TooManyRows as exc:
            raise TooManyRows(f"{exc.user_msg} Or raise the limit with --max-rows.") from None
    counts = table.summary()
    click.echo(f"Routed {table.routed.num_rows} rows from {input_path} to {out_path}:")
    for rule in RULES:
        if counts.get(rule):
            click.echo(f"  {rule:<18} {counts[rule]:>8}")
