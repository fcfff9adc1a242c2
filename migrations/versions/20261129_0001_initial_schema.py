"""initial schema: communities, layouts, grids, compounds, buildings, units,
staff and their assignments, departments and categories.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 23:41:00.442107
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


UNIT_INSIDE_BUILDING = """
CREATE FUNCTION gridgis_unit_inside_building() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    footprint geometry;
BEGIN
    SELECT geom INTO footprint FROM building WHERE id = NEW.building_id;
    -- Half a metre of slack: units are usually drawn by hand or sliced in
    -- another CRS, and a sliver outside the wall is not a different building.
    -- The cheap planar test runs first; the geography buffer only when needed.
    IF footprint IS NOT NULL
       AND NOT ST_CoveredBy(NEW.geom, footprint)
       AND NOT ST_CoveredBy(NEW.geom, ST_Buffer(footprint::geography, 0.5)::geometry)
    THEN
        RAISE EXCEPTION 'unit % lies outside its building (id %) by more than 0.5 m',
            NEW.number, NEW.building_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'unit_inside_building';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER unit_inside_building
    BEFORE INSERT OR UPDATE OF geom, building_id ON unit
    FOR EACH ROW EXECUTE FUNCTION gridgis_unit_inside_building();
"""


def upgrade() -> None:
    # PostGIS for geometry; btree_gist for the layout exclusion constraint;
    # pg_trgm for fuzzy address search. IF NOT EXISTS: a managed database may
    # have created them already for a role that cannot.
    for extension in ("postgis", "btree_gist", "pg_trgm"):
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("response_hours", sa.Float(), nullable=False),
        sa.Column("resolution_hours", sa.Float(), nullable=False),
        sa.Column("volunteer_team", sa.String(length=16), nullable=True),
        sa.Column("is_property", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint(
            "volunteer_team IS NULL OR volunteer_team IN ('red', 'blue', 'green', 'orange', 'white')",
            name=op.f("ck_category_volunteer_team"),
        ),
        sa.CheckConstraint(
            "resolution_hours >= response_hours", name=op.f("ck_category_resolution_after_response")
        ),
        sa.CheckConstraint("response_hours > 0", name=op.f("ck_category_response_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
        sa.UniqueConstraint("code", name=op.f("uq_category_code")),
    )
    op.create_geospatial_table(
        "community",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "boundary",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("gap_tolerance_m", sa.Float(), server_default=sa.text("30"), nullable=False),
        sa.Column("households_min", sa.Integer(), nullable=True),
        sa.Column("households_max", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "boundary IS NULL OR ST_IsValid(boundary)", name=op.f("ck_community_boundary_valid")
        ),
        sa.CheckConstraint(
            "gap_tolerance_m >= 0", name=op.f("ck_community_gap_tolerance_nonnegative")
        ),
        sa.CheckConstraint(
            "households_min IS NULL OR households_max IS NULL OR households_min <= households_max",
            name=op.f("ck_community_household_band"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community")),
        sa.UniqueConstraint("code", name=op.f("uq_community_code")),
    )
    op.create_geospatial_index(
        "ix_community_boundary",
        "community",
        ["boundary"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column(
            "jurisdiction",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.CheckConstraint(
            "kind IN ('urban_management', 'traffic_police', 'sanitation', 'tobacco', 'property_company', 'co_building', 'other')",
            name=op.f("ck_department_kind"),
        ),
        sa.CheckConstraint(
            "jurisdiction IS NULL OR ST_IsValid(jurisdiction)",
            name=op.f("ck_department_jurisdiction_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department")),
        sa.UniqueConstraint("code", name=op.f("uq_department_code")),
    )
    op.create_geospatial_index(
        "ix_department_jurisdiction",
        "department",
        ["jurisdiction"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "category_department",
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_category_department_category_id_category"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_category_department_department_id_department"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "category_id", "department_id", name=op.f("pk_category_department")
        ),
    )
    op.create_geospatial_table(
        "compound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("property_company_id", sa.Integer(), nullable=True),
        sa.Column(
            "has_owners_committee", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("geom IS NULL OR ST_IsValid(geom)", name=op.f("ck_compound_geom_valid")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_compound_community_id_community"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["property_company_id"],
            ["department.id"],
            name=op.f("fk_compound_property_company_id_department"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compound")),
        sa.UniqueConstraint("community_id", "code", name=op.f("uq_compound_community_id_code")),
    )
    op.create_index(op.f("ix_compound_community_id"), "compound", ["community_id"], unique=False)
    op.create_geospatial_index(
        "ix_compound_geom",
        "compound",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "layout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "status", sa.String(length=16), server_default=sa.text("'draft'"), nullable=False
        ),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        postgresql.ExcludeConstraint(
            (sa.column("community_id"), "="),
            (sa.text("tstzrange(valid_from, valid_to)"), "&&"),
            where=sa.text("status = 'published'"),
            using="gist",
            name="ex_layout_one_in_force",
        ),
        sa.CheckConstraint(
            "status = 'draft' OR valid_from IS NOT NULL", name=op.f("ck_layout_published_has_start")
        ),
        sa.CheckConstraint("status IN ('draft', 'published')", name=op.f("ck_layout_status")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_layout_period_order")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_layout_community_id_community"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_layout")),
        sa.UniqueConstraint("community_id", "name", name=op.f("uq_layout_community_id_name")),
    )
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_staff_community_id_community"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("community_id", "code", name=op.f("uq_staff_community_id_code")),
    )
    op.create_index(op.f("ix_staff_community_id"), "staff", ["community_id"], unique=False)
    op.create_geospatial_table(
        "building",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("compound_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("floors", sa.Integer(), nullable=True),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint(
            "floors IS NULL OR floors >= 0", name=op.f("ck_building_floors_nonnegative")
        ),
        sa.CheckConstraint("geom IS NULL OR ST_IsValid(geom)", name=op.f("ck_building_geom_valid")),
        sa.CheckConstraint(
            "households IS NULL OR households >= 0", name=op.f("ck_building_households_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["community.id"],
            name=op.f("fk_building_community_id_community"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["compound_id"],
            ["compound.id"],
            name=op.f("fk_building_compound_id_compound"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_building")),
        sa.UniqueConstraint("community_id", "code", name=op.f("uq_building_community_id_code")),
    )
    op.create_index(op.f("ix_building_community_id"), "building", ["community_id"], unique=False)
    op.create_index(op.f("ix_building_compound_id"), "building", ["compound_id"], unique=False)
    op.create_geospatial_index(
        "ix_building_geom",
        "building",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        "ix_building_address_trgm",
        "building",
        ["address"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"address": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_building_name_trgm",
        "building",
        ["name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_geospatial_table(
        "grid",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layout_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("geom IS NULL OR ST_IsValid(geom)", name=op.f("ck_grid_geom_valid")),
        sa.ForeignKeyConstraint(
            ["layout_id"], ["layout.id"], name=op.f("fk_grid_layout_id_layout"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid")),
        sa.UniqueConstraint("layout_id", "code", name=op.f("uq_grid_layout_id_code")),
    )
    op.create_geospatial_index(
        "ix_grid_geom", "grid", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_index(op.f("ix_grid_layout_id"), "grid", ["layout_id"], unique=False)
    op.create_geospatial_table(
        "unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("building_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("households", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("geom IS NULL OR ST_IsValid(geom)", name=op.f("ck_unit_geom_valid")),
        sa.CheckConstraint(
            "households IS NULL OR households >= 0", name=op.f("ck_unit_households_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_unit_building_id_building"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit")),
        sa.UniqueConstraint("building_id", "number", name=op.f("uq_unit_building_id_number")),
    )
    op.create_index(op.f("ix_unit_building_id"), "unit", ["building_id"], unique=False)
    op.create_geospatial_index(
        "ix_unit_geom", "unit", ["geom"], unique=False, postgresql_using="gist", postgresql_ops={}
    )
    op.create_table(
        "assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("volunteer_team", sa.String(length=16), nullable=True),
        sa.Column("on_duty", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.CheckConstraint(
            "(role = 'volunteer') = (volunteer_team IS NOT NULL)",
            name=op.f("ck_assignment_team_for_volunteers"),
        ),
        sa.CheckConstraint(
            "(role IN ('grid_worker', 'part_time_worker', 'volunteer') AND grid_id IS NOT NULL AND building_id IS NULL AND unit_id IS NULL) OR (role = 'building_head' AND building_id IS NOT NULL AND grid_id IS NULL AND unit_id IS NULL) OR (role = 'unit_head' AND unit_id IS NOT NULL AND grid_id IS NULL AND building_id IS NULL)",
            name=op.f("ck_assignment_role_target"),
        ),
        sa.CheckConstraint(
            "role IN ('grid_worker', 'part_time_worker', 'building_head', 'unit_head', 'volunteer')",
            name=op.f("ck_assignment_role"),
        ),
        sa.CheckConstraint(
            "volunteer_team IS NULL OR volunteer_team IN ('red', 'blue', 'green', 'orange', 'white')",
            name=op.f("ck_assignment_volunteer_team"),
        ),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["building.id"],
            name=op.f("fk_assignment_building_id_building"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grid.id"], name=op.f("fk_assignment_grid_id_grid"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_assignment_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_assignment_unit_id_unit"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment")),
        sa.UniqueConstraint(
            "staff_id", "role", "grid_id", name=op.f("uq_assignment_staff_id_role_grid_id")
        ),
    )
    op.create_index(op.f("ix_assignment_staff_id"), "assignment", ["staff_id"], unique=False)
    op.create_index("ix_assignment_grid_id", "assignment", ["grid_id"], unique=False)
    op.create_index("uq_assignment_building_head", "assignment", ["building_id"], unique=True)
    op.create_index(
        "uq_assignment_grid_role",
        "assignment",
        ["grid_id", "role"],
        unique=True,
        postgresql_where=sa.text("role IN ('grid_worker', 'part_time_worker')"),
    )
    op.create_index("uq_assignment_unit_head", "assignment", ["unit_id"], unique=True)
    op.execute(UNIT_INSIDE_BUILDING)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS unit_inside_building ON unit")
    op.execute("DROP FUNCTION IF EXISTS gridgis_unit_inside_building()")
    op.drop_index("uq_assignment_unit_head", table_name="assignment")
    op.drop_index(
        "uq_assignment_grid_role",
        table_name="assignment",
        postgresql_where=sa.text("role IN ('grid_worker', 'part_time_worker')"),
    )
    op.drop_index("uq_assignment_building_head", table_name="assignment")
    op.drop_index("ix_assignment_grid_id", table_name="assignment")
    op.drop_index(op.f("ix_assignment_staff_id"), table_name="assignment")
    op.drop_table("assignment")
    op.drop_geospatial_index(
        "ix_unit_geom", table_name="unit", postgresql_using="gist", column_name="geom"
    )
    op.drop_index(op.f("ix_unit_building_id"), table_name="unit")
    op.drop_geospatial_table("unit")
    op.drop_index(op.f("ix_grid_layout_id"), table_name="grid")
    op.drop_geospatial_index(
        "ix_grid_geom", table_name="grid", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("grid")
    op.drop_geospatial_index(
        "ix_building_geom", table_name="building", postgresql_using="gist", column_name="geom"
    )
    op.drop_index(op.f("ix_building_compound_id"), table_name="building")
    op.drop_index(op.f("ix_building_community_id"), table_name="building")
    op.drop_geospatial_table("building")
    op.drop_index(op.f("ix_staff_community_id"), table_name="staff")
    op.drop_table("staff")
    op.drop_table("layout")
    op.drop_geospatial_index(
        "ix_compound_geom", table_name="compound", postgresql_using="gist", column_name="geom"
    )
    op.drop_index(op.f("ix_compound_community_id"), table_name="compound")
    op.drop_geospatial_table("compound")
    op.drop_table("category_department")
    op.drop_geospatial_index(
        "ix_department_jurisdiction",
        table_name="department",
        postgresql_using="gist",
        column_name="jurisdiction",
    )
    op.drop_geospatial_table("department")
    op.drop_geospatial_index(
        "ix_community_boundary",
        table_name="community",
        postgresql_using="gist",
        column_name="boundary",
    )
    op.drop_geospatial_table("community")
    op.drop_table("category")
