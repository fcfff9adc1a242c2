"""``gridgis db``: schema migrations, run as the schema's owner (``DATABASE_OWNER_URL``)."""

from __future__ import annotations

import click

from gridgis import migrate
from gridgis.db import engine_scope


@click.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    with engine_scope(owner=True) as engine:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine, revision)
        after = migrate.current_revision(engine)
    if before == after:
        click.echo(f"Database schema is up to date (revision {after}).")
    else:
        click.echo(f"Database schema upgraded from {before or 'empty'} to {after}.")


@db.command()
def current() -> None:
    """Print the schema revision of the database and of the code."""
    with engine_scope(owner=True) as engine:
        click.echo(f"database: {migrate.current_revision(engine) or 'empty'}")
        click.echo(f"code:     {migrate.head_revision(engine)}")
