"""The catalogue: partner departments and incident categories."""

from __future__ import annotations

from geoalchemy2 import WKBElement
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    String,
    Table,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridgis.models.base import Base, check_in, check_valid, polygons
from gridgis.models.roles import DEPARTMENT_KINDS, VOLUNTEER_TEAMS

#: How a category's deadline hours count.
DEADLINE_BASES = ("working", "calendar")


class Department(Base):
    """部门: a partner outside the grid team, optionally with a jurisdiction."""

    __tablename__ = "department"
    __table_args__ = (
        CheckConstraint(check_in("kind", DEPARTMENT_KINDS), name="kind"),
        CheckConstraint(check_valid("jurisdiction"), name="jurisdiction_valid"),
        Index("ix_department_jurisdiction", "jurisdiction", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str | None] = mapped_column(String(32))
    jurisdiction: Mapped[WKBElement | None] = polygons(nullable=True)


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
            "volunteer_team IS NULL OR " + check_in("volunteer_team", VOLUNTEER_TEAMS),
            name="volunteer_team",
        ),
        CheckConstraint(check_in("deadline_basis", DEADLINE_BASES), name="deadline_basis"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    response_hours: Mapped[float] = mapped_column(Float)
    resolution_hours: Mapped[float] = mapped_column(Float)
    #: ``working``: the hours count working time on the official calendar (调休
    #: included); ``calendar``: every hour counts (urgent help, say).
    deadline_basis: Mapped[str] = mapped_column(String(16), server_default=text("'working'"))
    #: A category may ask for one volunteer team (medical help → white).
    volunteer_team: Mapped[str | None] = mapped_column(String(16))
    #: Property issues also go to the property company of the covering compound.
    is_property: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    departments: Mapped[list[Department]] = relationship(secondary=category_department)
