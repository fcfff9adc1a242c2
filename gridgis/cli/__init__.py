"""The ``gridgis`` command line.

Every command takes the database from ``DATABASE_URL`` (or the project-local
cluster). Domain errors print their user message and exit with status 1;
nothing else is printed to the user on failure but a one-line reason.
"""

from __future__ import annotations

import logging
import sys

import click

from gridgis import clock
from gridgis.config import Settings
from gridgis.errors import GridgisError

# Not the package itself: gridgis.cli.incidents (the command) takes that name here.
from gridgis.incidents import configure as configure_incidents
from gridgis.staff import configure as configure_staff


class GridgisGroup(click.Group):
    """Turns domain errors into a clear message and exit status 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except GridgisError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=GridgisGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log progress details.")
def main(verbose: bool) -> None:
    """gridgis: community grid governance on PostGIS."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Times printed by commands are in the display zone (GRIDGIS_TIMEZONE); incidents
    # count office hours and notify the configured webhooks; visits follow their intervals.
    settings = Settings.from_env()
    clock.configure(settings.timezone)
    configure_incidents(settings)
    configure_staff(settings)


def _register() -> None:
    from gridgis.cli import (
        db,
        demo,
        incidents,
        layout,
        layout_rebalance,
        report,
        route,
        serve,
        shapes,
        users,
        worker,
    )

    main.add_command(db.db)
    main.add_command(demo.demo)
    main.add_command(serve.serve)
    main.add_command(shapes.import_command)
    main.add_command(shapes.export_command)
    main.add_command(route.route_command)
    main.add_command(users.user)
    main.add_command(users.apikey)
    main.add_command(users.audit_group)
    main.add_command(incidents.incidents_group)
    main.add_command(report.report_group)
    main.add_command(layout.layout_group)
    layout.layout_group.add_command(layout_rebalance.rebalance_command)
    main.add_command(worker.worker)
    main.add_command(worker.outbox_group, name="outbox")


_register()
