"""households with care flags, their visits (四访) and rounds (四进)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Households live in a building and, where drawn, a unit; their names and
phones are personal data. Visits and rounds are logged by grid staff; a
visit's follow-up and a round's findings may become incidents. The app role
gets the data privileges by default (migration 0005).
"""

from __future__ import annotations

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CARE_FLAGS = ("hardship", "retiree", "elderly_alone", "petitioner")
ROUND_KINDS = ("inventory", "publicity", "collection", "home_help")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "household",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("room", sa.String(length=32), nullable=True),
        sa.Column("head_name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("members", sa.Integer(), nullable=True),
        sa.Column(
            "care_flags",
            postgresql.ARRAY(sa.String(length=16)),
            server_default=sa.text("'{}'::varchar[]"),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT", srid=4326, spatial_index=False, from_text="ST_GeomFromEWKT"
            ),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "care_flags <@ ARRAY[" + ", ".join(f"'{f}'" for f in CARE_FLAGS) + "]::varchar[]",
            name=op.f("ck_household_care_flags"),
        ),
        sa.CheckConstraint("members IS NULL OR members >= 0", name=op.f("ck_household_members")),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_household_building_id_building"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_household_community_id_community"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_household_unit_id_unit"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household")),
        sa.UniqueConstraint("community_id", "code", name=op.f("uq_household_community_id_code")),
    )
    op.create_index("ix_household_unit_id", "household", ["unit_id"])
    op.create_index("ix_household_building_id", "household", ["building_id"])
    op.create_index("ix_household_geom", "household", ["geom"], postgresql_using="gist")
    op.create_index(
        "ix_household_flagged",
        "household",
        ["community_id"],
        postgresql_where=sa.text("cardinality(care_flags) > 0"),
    )

    op.create_table(
        "visit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("household_id", sa.BigInteger(), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("findings", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("follow_up", sa.Text(), nullable=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("logged_by", sa.String(length=120), nullable=False),
        sa.Column(
            "logged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_visit_household_id_household"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_visit_incident_id_incident"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_visit_staff_id_staff"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
    )
    op.create_index("ix_visit_household_at", "visit", ["household_id", "visited_at"])
    op.create_index(op.f("ix_visit_visited_at"), "visit", ["visited_at"])

    op.create_table(
        "field_round",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("compound_id", sa.Integer(), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("household_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT", srid=4326, spatial_index=False, from_text="ST_GeomFromEWKT"
            ),
            nullable=True,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("others", sa.String(length=500), nullable=True),
        sa.Column("findings", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("logged_by", sa.String(length=120), nullable=False),
        sa.Column(
            "logged_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(_in("kind", ROUND_KINDS), name=op.f("ck_field_round_kind")),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_field_round_building_id_building"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_field_round_community_id_community"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["compound_id"],
            ["compound.id"],
            name=op.f("fk_field_round_compound_id_compound"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_field_round_grid_id_grid"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
            name=op.f("fk_field_round_household_id_household"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_round")),
    )
    op.create_index("ix_field_round_grid_at", "field_round", ["grid_id", "started_at"])
    op.create_index("ix_field_round_geom", "field_round", ["geom"], postgresql_using="gist")

    op.create_table(
        "round_participant",
        sa.Column("round_id", sa.BigInteger(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["field_round.id"],
            name=op.f("fk_round_participant_round_id_field_round"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_round_participant_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("round_id", "staff_id", name=op.f("pk_round_participant")),
    )
    op.create_index(op.f("ix_round_participant_staff_id"), "round_participant", ["staff_id"])

    op.create_table(
        "round_incident",
        sa.Column("round_id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_round_incident_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["field_round.id"],
            name=op.f("fk_round_incident_round_id_field_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("round_id", "incident_id", name=op.f("pk_round_incident")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_round_incident_incident_id")),
    )


def downgrade() -> None:
    op.drop_table("round_incident")
    op.drop_table("round_participant")
    op.drop_table("field_round")
    op.drop_table("visit")
    op.drop_table("household")
