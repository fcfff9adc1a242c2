"""Alembic environment: migrations are the schema's only source."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import engine_from_config, pool

from gridgis.config import owner_database_url
from gridgis.migrate import include_object
from gridgis.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    section = config.get_section(config.config_ini_section, {})
    # Migrations run as the schema's owner (DATABASE_OWNER_URL), never as the app.
    section.setdefault("sqlalchemy.url", owner_database_url())
    if not section.get("sqlalchemy.url"):
        section["sqlalchemy.url"] = owner_database_url()
    engine = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("gridgis migrations run online only (they create extensions and triggers).")
run_migrations_online()
