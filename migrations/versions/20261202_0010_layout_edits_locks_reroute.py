"""planning: the undo/redo history of draft edits, grid locks, rerouting at cut-over

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

``layout_edit`` keeps each paint of a draft with the grids it changed as they
were before and after (code, name, polygon, team), so the workspace can undo
and redo an edit exactly: the polygons come back byte for byte, which
repainting the buildings back would not give (a cell is cut by the grid the
building is in). The audit log stays the record of who did what; this table
is working state of drafts and goes with its layout.

``grid.locked`` keeps a grid out of painting and rebalancing while a planner
works on its neighbours. ``layout.reroute_open`` says the layout's publisher
asked for open incidents to be rerouted at the cut-over; ``rerouted_at`` when
the worker did it (once).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "grid", sa.Column("locked", sa.Boolean(), server_default=sa.text("false"), nullable=False)
    )
    op.add_column(
        "layout",
        sa.Column("reroute_open", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("layout", sa.Column("rerouted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "layout_edit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("layout_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("before", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("after", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("undone", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.ForeignKeyConstraint(
            ["layout_id"],
            ["layout.id"],
            name="fk_layout_edit_layout_id_layout",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_layout_edit"),
        sa.UniqueConstraint("layout_id", "seq", name="uq_layout_edit_layout_id_seq"),
    )


def downgrade() -> None:
    op.drop_table("layout_edit")
    op.drop_column("layout", "rerouted_at")
    op.drop_column("layout", "reroute_open")
    op.drop_column("grid", "locked")
