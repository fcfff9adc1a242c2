"""incidents, their events and the outbox

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

An incident keeps its routing snapshot (plain place ids and the whole result
as JSON: never rewritten by later redraws), its reporters (personal data),
its history as appended events, its photos (files in the media folder; rows
here), its escalations (one per breached deadline) and, through the outbox,
the notifications its changes cause (written in the same transaction).

The history is append-only like the audit log: a trigger refuses UPDATE,
DELETE and TRUNCATE for every role, and the app's role is not even granted
them. A category says whether its deadlines count working hours.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


APPEND_ONLY = """
CREATE FUNCTION gridgis_history_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'an incident''s history is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER incident_event_append_only BEFORE UPDATE OR DELETE ON incident_event
    FOR EACH ROW EXECUTE FUNCTION gridgis_history_append_only();
CREATE TRIGGER incident_event_no_truncate BEFORE TRUNCATE ON incident_event
    FOR EACH STATEMENT EXECUTE FUNCTION gridgis_history_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
    )
    op.create_geospatial_table(
        "incident",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("token", sa.String(length=36), nullable=False),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'received'"), nullable=False
        ),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("source_category", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("input_crs", sa.String(length=32), nullable=True),
        sa.Column("input_lon", sa.Float(), nullable=True),
        sa.Column("input_lat", sa.Float(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("layout_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("routing", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("response_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("satisfaction", sa.String(length=16), nullable=True),
        sa.Column("merged_into_id", sa.BigInteger(), nullable=True),
        sa.Column("handled_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)",
            name=op.f("ck_incident_merged_into"),
        ),
        sa.CheckConstraint(
            "channel IN ('hotline_12345', 'mini_program', 'walk_in', 'visit', 'phone', 'open311')",
            name=op.f("ck_incident_channel"),
        ),
        sa.CheckConstraint(
            "satisfaction IS NULL OR satisfaction IN ('satisfied', 'neutral', 'unsatisfied')",
            name=op.f("ck_incident_satisfaction"),
        ),
        sa.CheckConstraint(
            "status IN ('received', 'registered', 'rejected', 'merged', 'dispatched', 'in_progress', 'checked', 'closed', 'parked')",
            name=op.f("ck_incident_status"),
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_incident_category_id_category"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["handled_by_id"],
            ["app_user.id"],
            name=op.f("fk_incident_handled_by_id_app_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["incident.id"],
            name=op.f("fk_incident_merged_into_id_incident"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_incident_channel_external_id")),
        sa.UniqueConstraint("token", name=op.f("uq_incident_token")),
    )
    op.create_index(op.f("ix_incident_category_id"), "incident", ["category_id"], unique=False)
    op.create_geospatial_index(
        "ix_incident_geom",
        "incident",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index("ix_incident_grid_id", "incident", ["grid_id"], unique=False)
    op.create_index(
        op.f("ix_incident_merged_into_id"), "incident", ["merged_into_id"], unique=False
    )
    op.create_index("ix_incident_reported_at", "incident", ["reported_at"], unique=False)
    op.create_index(
        "ix_incident_status_community", "incident", ["status", "community_id"], unique=False
    )
    op.create_table(
        "incident_escalation",
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("deadline", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "deadline IN ('response', 'resolution')", name=op.f("ck_incident_escalation_deadline")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_escalation_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "deadline", name=op.f("pk_incident_escalation")),
    )
    op.create_table(
        "incident_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_event_incident_id_incident"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_event")),
    )
    op.create_index(
        "ix_incident_event_incident_id", "incident_event", ["incident_id", "id"], unique=False
    )
    op.create_table(
        "incident_photo",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("stored_name", sa.String(length=80), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_photo_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_photo")),
        sa.UniqueConstraint("stored_name", name=op.f("uq_incident_photo_stored_name")),
    )
    op.create_index(
        op.f("ix_incident_photo_incident_id"), "incident_photo", ["incident_id"], unique=False
    )
    op.create_table(
        "incident_reporter",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_reporter_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_reporter")),
    )
    op.create_index(
        op.f("ix_incident_reporter_incident_id"), "incident_reporter", ["incident_id"], unique=False
    )
    op.add_column(
        "category",
        sa.Column(
            "deadline_basis",
            sa.String(length=16),
            server_default=sa.text("'working'"),
            nullable=False,
        ),
    )
    op.create_check_constraint(
        op.f("ck_category_deadline_basis"), "category", "deadline_basis IN ('working', 'calendar')"
    )
    # An incident's history is appended, never rewritten (DESIGN.md, Incident life).
    op.execute(APPEND_ONLY)
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON incident_event FROM gridgis_app")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS incident_event_append_only ON incident_event")
    op.execute("DROP TRIGGER IF EXISTS incident_event_no_truncate ON incident_event")
    op.execute("DROP FUNCTION IF EXISTS gridgis_history_append_only()")
    op.drop_constraint(op.f("ck_category_deadline_basis"), "category", type_="check")
    op.drop_column("category", "deadline_basis")
    op.drop_index(op.f("ix_incident_reporter_incident_id"), table_name="incident_reporter")
    op.drop_table("incident_reporter")
    op.drop_index(op.f("ix_incident_photo_incident_id"), table_name="incident_photo")
    op.drop_table("incident_photo")
    op.drop_index("ix_incident_event_incident_id", table_name="incident_event")
    op.drop_table("incident_event")
    op.drop_table("incident_escalation")
    op.drop_index("ix_incident_status_community", table_name="incident")
    op.drop_index("ix_incident_reported_at", table_name="incident")
    op.drop_index(op.f("ix_incident_merged_into_id"), table_name="incident")
    op.drop_index("ix_incident_grid_id", table_name="incident")
    op.drop_geospatial_index(
        "ix_incident_geom", table_name="incident", postgresql_using="gist", column_name="geom"
    )
    op.drop_index(op.f("ix_incident_category_id"), table_name="incident")
    op.drop_geospatial_table("incident")
    op.drop_index(
        "ix_outbox_pending",
        table_name="outbox",
        postgresql_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
    )
    op.drop_table("outbox")
