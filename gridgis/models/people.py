"""People: the staff of the "1+1+1+N" teams and the places they answer for."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridgis.models.base import Base, check_in
from gridgis.models.roles import STAFF_ROLES, VOLUNTEER_TEAMS


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
        CheckConstraint(check_in("role", STAFF_ROLES), name="role"),
        CheckConstraint(
            "volunteer_team IS NULL OR " + check_in("volunteer_team", VOLUNTEER_TEAMS),
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
