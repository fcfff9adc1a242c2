"""``gridgis incidents``: incidents from the command line (hotline work-order files in).

``gridgis incidents import FILE`` takes in the work orders of a 12345 hotline
export (CSV, XLSX or JSON) in one unit of work: the good rows go in, the bad
ones are listed with their row and reason and kept out, and a work order
imported before is not added again. Progress goes to stderr on long files;
the summary to stdout. A file with no row that can be taken in changes
nothing and exits with status 1.
"""

from __future__ import annotations

from pathlib import Path

import click

from gridgis.cli.common import cli_actor
from gridgis.cli.shapes import _ProgressBar
from gridgis.db import engine_scope, unit_of_work
from gridgis.incidents.hotline import CHANNEL, import_hotline
from gridgis.models import CHANNELS


@click.group("incidents")
def incidents_group() -> None:
    """Incidents: take in hotline work-order files."""


@incidents_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--channel",
    type=click.Choice(CHANNELS),
    default=CHANNEL,
    show_default=True,
    help="The channel the work orders came through.",
)
@click.option(
    "--crs",
    default=None,
    help="CRS of rows whose 坐标系 is blank: gcj02 (the default), bd09 or an EPSG code.",
)
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Table from the hotline's 问题分类 to category codes (JSON or CSV); "
    "default data/hotline/category_mapping.json.",
)
def import_command(file: Path, channel: str, crs: str | None, mapping: Path | None) -> None:
    """Take in a 12345 hotline export FILE (CSV, XLSX or JSON).

    Columns: 工单编号, 受理时间, 来电人, 联系电话, 诉求类型, 问题分类, 诉求内容,
    事发地址, 经度, 纬度, 坐标系, 办理时限, 工单状态. Rows that cannot be taken
    in are listed and kept out; importing the same file again adds nothing.
    """
    bar = _ProgressBar()
    try:
        with engine_scope() as engine, unit_of_work(engine) as session:
            found = import_hotline(
                session,
                file,
                actor=cli_actor(),
                channel=channel,
                crs=crs,
                mapping=mapping,
                progress=bar,
            )
    finally:
        bar.close()
    click.echo(found.summary())
