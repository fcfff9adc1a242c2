"""``gridgis route``: route every row of a CSV or GeoJSON file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from gridgis.db import engine_scope, transaction
from gridgis.errors import InvalidInput
from gridgis.routing import RULES


def _parse_at(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            f"--at {value!r} is not an ISO 8601 time (e.g. 2026-11-29T08:00:00+08:00)."
        ) from exc
    if at.tzinfo is None:
        raise InvalidInput(f"--at {value!r} needs a time zone, e.g. {value}+08:00.")
    return at


@click.command("route")
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (.csv for CSV input, .geojson for GeoJSON input).",
)
@click.option(
    "--community", "community_code", default=None, help="Route only within this community."
)
@click.option("--lon-field", default=None, help="Longitude/x column (default: detected).")
@click.option("--lat-field", default=None, help="Latitude/y column (default: detected).")
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
    """Route every row of INPUT to its grid team; write the rows with routing columns."""
    from gridgis.routing_io import route_file

    at = _parse_at(at_text)
    with engine_scope() as engine, transaction(engine) as session:
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
