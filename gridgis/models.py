"""The data model: SQLAlchemy 2 typed models on PostGIS.

Alembic migrations (``migrations/``) are the schema's only source; these models
must agree with them, and ``tests/gridgis/test_migrations.py`` checks that they
do. Every geometry is stored in EPSG:4326 (``SRID``) as a MultiPolygon so that
real-world footprints with several parts load without special cases, has a
GiST index, and must be valid (a CHECK constraint, so no code path can store a
broken polygon).
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: The one SRID of stored geometry (WGS 84 lon/lat; CGCS2000 is taken as equal).
SRID = 4326

#: The "1+1+1+N" roles (DESIGN.md). Grid roles attach to a grid, the others to
#: their building or unit.
STAFF_ROLES = ("grid_worker", "part_time_worker", "building_head", "unit_head", "volunteer")
GRID_ROLES = ("grid_worker", "part_time_worker", "volunteer")
#: Volunteer teams: red pioneer 红色先锋, blue grid 蓝色网格, green veteran 绿色老兵,
#: orange elderly 橙色老年, white medical 白色医疗.
VOLUNTEER_TEAMS = ("red", "blue", "green", "orange", "white")
DEPARTMENT_KINDS = (
    "urban_management",
    "traffic_police",
    "sanitation",
    "tobacco",
    "property_company",
    "co_building",
    "other",
)
LAYOUT_STATUSES = ("draft", "published")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _valid(column: str = "geom") -> str:
    return f"{column} IS NULL OR ST_IsValid({column})"


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _polygons(nullable: bool = False) -> Mapped[WKBElement]:
    # spatial_index=False: the GiST indexes are declared by name in __table_args__
    # so that migrations and models agree on them.
    return mapped_column(
        Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=nullable
    )


def _created() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Community(Base):
    """社区: the area one party-committee office governs."""

    __tablename__ = "community"
    __table_args__ = (
        CheckConstraint(_valid("boundary"), name="boundary_valid"),
        CheckConstraint("gap_tolerance_m >= 0", name="gap_tolerance_nonnegative"),
        CheckConstraint(
            "households_min IS NULL OR households_max IS NULL OR households_min <= households_max",
            name="household_band",
        ),
        Index("ix_community_boundary", "boundary", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    boundary: Mapped[WKBElement] = _polygons()
    #: Incidents in a gap between grids go to the nearest grid within this distance.
    gap_tolerance_m: Mapped[float] = mapped_column(Float, server_default=text("30"))
    #: Target band of households per grid (configured per community, DESIGN.md).
    households_min: Mapped[int | None] = mapped_column(Integer)
    households_max: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = _created()

    layouts: Mapped[list[Layout]] = relationship(back_populates="community")


class Layout(Base):
    """网格方案: one complete set of grids for a community, effective from a date.

    Like MapIt's generations, a layout is drafted (``status='draft'``), checked,
    then published with ``valid_from``; publishing closes the previous layout
    with ``valid_to``. History is never rewritten. The exclusion constraint
    makes it impossible for two published layouts of one community to be in
    force at the same instant; ``gridgis.layouts.publish_layout`` keeps the
    periods contiguous, so exactly one is in force from the first publication on.
    """

    __tablename__ = "layout"
    __table_args__ = (
        UniqueConstraint("community_id", "name"),
        CheckConstraint(_in("status", LAYOUT_STATUSES), name="status"),
        CheckConstraint("status = 'draft' OR valid_from IS NOT NULL", name="published_has_start"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="period_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), server_default=text("'draft'"))
    valid_from: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()

    community: Mapped[Community] = relationship(back_populates="layouts")
    grids: Mapped[list[Grid]] = relationship(back_populates="layout")


# Declared after the class because it needs the mapped columns.
_layout_table = cast(Table, Layout.__table__)
_layout_table.append_constraint(
    ExcludeConstraint(
        (_layout_table.c.community_id, "="),
        (func.tstzrange(_layout_table.c.valid_from, _layout_table.c.valid_to), "&&"),
        where=text("status = 'published'"),
        using="gist",
        name="ex_layout_one_in_force",
    )
)


class Grid(Base):
    """网格: a piece of a community, in one layout. Codes are unique per layout."""

    __tablename__ = "grid"
    __table_args__ = (
        UniqueConstraint("layout_id", "code"),
        CheckConstraint(_valid(), name="geom_valid"),
        Index("ix_grid_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    layout_id: Mapped[int] = mapped_column(ForeignKey("layout.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    geom: Mapped[WKBElement] = _polygons()

    layout: Mapped[Layout] = relationship(back_populates="grids")


class Department(Base):
    """部门: a partner outside the grid team, optionally with a jurisdiction."""

    __tablename__ = "department"
    __table_args__ = (
        CheckConstraint(_in("kind", DEPARTMENT_KINDS), name="kind"),
        CheckConstraint(_valid("jurisdiction"), name="jurisdiction_valid"),
        Index("ix_department_jurisdiction", "jurisdiction", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(32))
    jurisdiction: Mapped[WKBElement | None] = _polygons(nullable=True)


class Compound(Base):
    """小区: a residential compound with its property company (物业)."""

    __tablename__ = "compound"
    __table_args__ = (
        UniqueConstraint("community_id", "code"),
        CheckConstraint(_valid(), name="geom_valid"),
        Index("ix_compound_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("community.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    property_company_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL")
    )
    #: 业委会: whether the owners have elected a committee.
    has_owners_committee: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    geom: Mapped[WKBElement] = _polygons()

    property_company: Mapped[Department | None] = relationship()


class Building(Base):
    """楼栋: a footprint with address, floors and households."""

    __tablename__ = "building"
    __table_args__ = (
        UniqueConstraint("community_id", "code"),
        CheckConstraint(_valid(), name="geom_valid"),
        CheckConstraint("floors IS NULL OR floors >= 0", name="floors_nonnegative"),
        CheckConstraint("households IS NULL OR households >= 0", name="households_nonnegative"),
        Index("ix_building_geom", "geom", postgresql_using="gist"),
        # Trigram indexes for routing by a typed address or building name (pg_trgm).
        Index(
            "ix_building_address_trgm",
            "address",
            postgresql_using="gin",
            postgresql_ops={"address": "gin_trgm_ops"},
        ),
        Index(
            "ix_building_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("community.id", ondelete="CASCADE"), index=True
    )
    compound_id: Mapped[int | None] = mapped_column(
        ForeignKey("compound.id", ondelete="SET NULL"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    floors: Mapped[int | None] = mapped_column(Integer)
    households: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[WKBElement] = _polygons()

    compound: Mapped[Compound | None] = relationship()
    units: Mapped[list[Unit]] = relationship(back_populates="building")


class Unit(Base):
    """单元: a stairwell section of a building; its polygon lies inside the building.

    The foreign key makes a unit belong to exactly one building; the trigger
    ``unit_inside_building`` (see the first migration) refuses a polygon that
    leaves its building by more than half a metre.
    """

    __tablename__ = "unit"
    __table_args__ = (
        UniqueConstraint("building_id", "number"),
        CheckConstraint(_valid(), name="geom_valid"),
        CheckConstraint("households IS NULL OR households >= 0", name="households_nonnegative"),
        Index("ix_unit_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    building_id: Mapped[int] = mapped_column(
        ForeignKey("building.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(32))
    households: Mapped[int | None] = mapped_column(Integer)
    geom: Mapped[WKBElement] = _polygons()

    building: Mapped[Building] = relationship(back_populates="units")


class Staff(Base):
    """A person on a grid team. Name and phone are personal data (DESIGN.md)."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("community_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("community.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))

    assignments: Mapped[list[Assignment]] = relationship(back_populates="staff")


class Assignment(Base):
    """One role of one person: which grid, building or unit they answer for."""

    __tablename__ = "assignment"
    __table_args__ = (
        CheckConstraint(_in("role", STAFF_ROLES), name="role"),
        CheckConstraint(
            "volunteer_team IS NULL OR " + _in("volunteer_team", VOLUNTEER_TEAMS),
            name="volunteer_team",
        ),
        # Each role names exactly the place it answers for.
        CheckConstraint(
            "(role IN ('grid_worker', 'part_time_worker', 'volunteer') "
            "AND grid_id IS NOT NULL AND building_id IS NULL AND unit_id IS NULL)"
            " OR (role = 'building_head' AND building_id IS NOT NULL"
            " AND grid_id IS NULL AND unit_id IS NULL)"
            " OR (role = 'unit_head' AND unit_id IS NOT NULL"
            " AND grid_id IS NULL AND building_id IS NULL)",
            name="role_target",
        ),
        CheckConstraint(
            "(role = 'volunteer') = (volunteer_team IS NOT NULL)", name="team_for_volunteers"
        ),
        # One lead and one part-time worker per grid, one head per building/unit.
        Index(
            "uq_assignment_grid_role",
            "grid_id",
            "role",
            unique=True,
            postgresql_where=text("role IN ('grid_worker', 'part_time_worker')"),
        ),
        # Routing looks teams up by grid (volunteers included, so not only the
        # partial unique index above).
        Index("ix_assignment_grid_id", "grid_id"),
        Index("uq_assignment_building_head", "building_id", unique=True),
        Index("uq_assignment_unit_head", "unit_id", unique=True),
        UniqueConstraint("staff_id", "role", "grid_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="CASCADE"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))
    volunteer_team: Mapped[str | None] = mapped_column(String(16))
    on_duty: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))

    staff: Mapped[Staff] = relationship(back_populates="assignments")


#: Departments a category also goes to.
category_department = Table(
    "category_department",
    Base.metadata,
    Column("category_id", ForeignKey("category.id", ondelete="CASCADE"), primary_key=True),
    Column("department_id", ForeignKey("department.id", ondelete="CASCADE"), primary_key=True),
)


class Category(Base):
    """事件类别: what an incident is about, its deadlines and partner departments."""

    __tablename__ = "category"
    __table_args__ = (
        CheckConstraint("response_hours > 0", name="response_positive"),
        CheckConstraint("resolution_hours >= response_hours", name="resolution_after_response"),
        CheckConstraint(
            "volunteer_team IS NULL OR " + _in("volunteer_team", VOLUNTEER_TEAMS),
            name="volunteer_team",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    response_hours: Mapped[float] = mapped_column(Float)
    resolution_hours: Mapped[float] = mapped_column(Float)
    #: A category may ask for one volunteer team (medical help → white).
    volunteer_team: Mapped[str | None] = mapped_column(String(16))
    #: Property issues also go to the property company of the covering compound.
    is_property: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    departments: Mapped[list[Department]] = relationship(secondary=category_department)


class RoutingEpoch(Base):
    """One number that changes whenever anything routing reads changes.

    Statement-level triggers (migration 0002) set it from a sequence after
    every write to communities, layouts, grids, compounds, buildings, units,
    departments and categories. A sequence never hands out a number twice, even
    across rolled-back transactions, so a routing cache keyed by the epoch a
    session sees is exactly that session's committed view (``routing_cache``).
    """

    __tablename__ = "routing_epoch"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger)


# Accounts, keys and the audit log share this Base; importing them here makes
# every table known wherever the models are (Alembic, tests).
from gridgis import account_models as _account_models  # noqa: E402,F401
