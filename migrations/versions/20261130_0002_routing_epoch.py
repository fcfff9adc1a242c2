"""routing epoch: a number bumped by every write that routing depends on

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: Tables whose contents decide where an incident belongs (staff are read per
#: request, so their changes need no epoch).
ROUTING_TABLES = (
    "community",
    "layout",
    "grid",
    "compound",
    "building",
    "unit",
    "department",
    "category",
    "category_department",
)


def upgrade() -> None:
    op.create_table(
        "routing_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_routing_epoch_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_epoch")),
    )
    op.execute("CREATE SEQUENCE routing_epoch_seq")
    op.execute("INSERT INTO routing_epoch (id, epoch) VALUES (1, nextval('routing_epoch_seq'))")
    op.execute(
        """
        CREATE FUNCTION gridgis_bump_routing_epoch() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE routing_epoch SET epoch = nextval('routing_epoch_seq') WHERE id = 1;
            RETURN NULL;
        END
        $$
        """
    )
    for table in ROUTING_TABLES:
        op.execute(
            f"CREATE TRIGGER bump_routing_epoch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
            f" ON {table} FOR EACH STATEMENT EXECUTE FUNCTION gridgis_bump_routing_epoch()"
        )


def downgrade() -> None:
    for table in ROUTING_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS bump_routing_epoch ON {table}")
    op.execute("DROP FUNCTION IF EXISTS gridgis_bump_routing_epoch()")
    op.drop_table("routing_epoch")
    op.execute("DROP SEQUENCE IF EXISTS routing_epoch_seq")
