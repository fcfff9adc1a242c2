"""``gridgis report``: the monthly work report (工作月汇报) of a community, as a file.

``gridgis report monthly --community CODE --month 2026-11 [--grid CODE]
[--format csv|xlsx] [--lang zh|en] -o FILE`` writes the grid and staff
tables with every figure's definition (:mod:`gridgis.reports.files`): CSV in
UTF-8 with a BOM (Excel and WPS read the Chinese right) or an XLSX workbook.
Whoever runs the command line is an administrator: staff names are in full,
and the export is audited.
"""

from __future__ import annotations

from pathlib import Path

import click

from gridgis.cli.common import cli_actor
from gridgis.db import engine_scope, unit_of_work
from gridgis.errors import InvalidInput
from gridgis.reports import files
from gridgis.reports.monthly import monthly_report


@click.group("report")
def report_group() -> None:
    """Reports: the monthly work report of a community's grids and staff."""


@report_group.command("monthly")
@click.option("--community", "community", required=True, help="The community's code.")
@click.option("--month", required=True, help="The month, e.g. 2026-11 (Asia/Shanghai months).")
@click.option("--grid", default=None, help="Only this grid (its code) and its staff.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(files.FORMATS),
    default=None,
    help="csv or xlsx (default: from the file's extension, else csv).",
)
@click.option(
    "--lang",
    type=click.Choice(("zh", "en")),
    default="zh",
    show_default=True,
    help="The language of the headings.",
)
@click.option(
    "-o",
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write.",
)
def monthly_command(
    community: str, month: str, grid: str | None, fmt: str | None, lang: str, out: Path
) -> None:
    """Write the monthly report of COMMUNITY for MONTH to a CSV or XLSX file."""
    suffix = out.suffix.lower().lstrip(".")
    fmt = fmt or (suffix if suffix in files.FORMATS else "csv")
    if suffix in files.FORMATS and suffix != fmt:
        raise InvalidInput(f"{out} ends in .{suffix} but --format is {fmt}: make them agree.")
    actor = cli_actor()
    with engine_scope() as engine, unit_of_work(engine) as session:
        found = monthly_report(session, actor, community=community, month=month, grid=grid)
        body = files.export(session, found, fmt, actor=actor, lang=lang)
        try:
            out.write_bytes(body)
        except OSError as exc:
            # Raised inside the unit of work: the export's audit entry rolls back with it.
            raise InvalidInput(f"{out}: cannot write the file ({exc.strerror}).") from exc
    status = "so far" if found.current else "whole month"
    click.echo(
        f"Wrote the monthly report of {found.community} for {found.month} ({status}): "
        f"{len(found.grids)} grids, {len(found.staff)} staff, {fmt.upper()} to {out}."
    )
