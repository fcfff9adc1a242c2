"""incident routing snapshots compressed with lz4

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Every incident stores its routing snapshot (DESIGN.md rule 6) as JSON of
about 2 KB, which PostgreSQL compresses when it stores the row. With its
default method (pglz), compressing was the largest part of the database's
work in a hotline import: copying 48,700 incidents into a table like
``incident`` took 2.6 s of server CPU, 1.8–2.0 s with lz4 (dropping every
secondary index instead saved 0.5 s). lz4 also decompresses faster when lists
read the snapshot. Rows stored before keep their compression until rewritten.

A server built without lz4 keeps pglz: the statement is skipped with a
notice rather than failing the upgrade.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _compression(method: str) -> str:
    return f"""
    DO $$
    BEGIN
        ALTER TABLE incident ALTER COLUMN routing SET COMPRESSION {method};
    EXCEPTION WHEN feature_not_supported THEN
        RAISE NOTICE 'this server cannot compress with {method}: incident.routing keeps its method';
    END $$;
    """


def upgrade() -> None:
    op.execute(_compression("lz4"))


def downgrade() -> None:
    op.execute(_compression("pglz"))
