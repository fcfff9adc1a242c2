"""Migrations run from empty, round-trip, and agree with the models."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gridgis import migrate
from gridgis.migrate import include_object
from gridgis.models import Base


def test_upgrade_from_empty_downgrade_and_upgrade_again(scratch_database_url: str) -> None:
    # Migrations run as the schema's owner (DATABASE_OWNER_URL), never as the app.
    engine = sa.create_engine(os.environ["DATABASE_OWNER_URL"], poolclass=sa.pool.NullPool)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    migrate.downgrade(engine, "base")
    assert migrate.current_revision(engine) is None
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    assert tables & {"grid", "building", "unit"} == set()
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    engine.dispose()


def test_models_and_migrations_agree(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={"include_object": include_object, "compare_type": True},
        )
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"
