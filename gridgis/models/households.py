"""Residents and field work: households with care flags, visits (四访) and rounds (四进).

A household (户) lives in a unit (or, where units are not drawn, a building)
and may carry care flags; flagged households must be visited on a schedule
("四进四访"). Names and phones of residents are personal data (DESIGN.md,
Security): who may see them is decided in ``gridgis.access.privacy``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridgis.models.base import SRID, Base, check_in
from gridgis.models.roles import Term, _table

#: The four kinds of household that must be visited ("四访"), with a default interval.
CARE_FLAG_TERMS: Mapping[str, Term] = _table(
    Term("hardship", "困难家庭", "Hardship household"),
    Term("retiree", "离退休人员", "Retiree"),
    Term("elderly_alone", "孤寡老人", "Elderly living alone"),
    Term("petitioner", "信访户", "Petitioner"),
)
CARE_FLAGS = tuple(CARE_FLAG_TERMS)

#: The four rounds ("四进").
ROUND_KIND_TERMS: Mapping[str, Term] = _table(
    Term("inventory", "进网格自查盘点", "Grid inventory round"),
    Term("publicity", "进小区宣传政策", "Policy publicity in a compound"),
    Term("collection", "进楼院征集诉求", "Collecting requests in a courtyard"),
    Term("home_help", "进家门提供帮助", "Help at home"),
)
ROUND_KINDS = tuple(ROUND_KIND_TERMS)


class Household(Base):
    """One household (户) of a community, in a building and, where drawn, a unit."""

    __tablename__ = "household"
    __table_args__ = (
        # The community's own number for it: importing the same file again updates, not adds.
        UniqueConstraint("community_id", "code"),
        CheckConstraint(
            "care_flags <@ ARRAY[" + ", ".join(f"'{f}'" for f in CARE_FLAGS) + "]::varchar[]",
            name="care_flags",
        ),
        CheckConstraint("members IS NULL OR members >= 0", name="members"),
        Index("ix_household_unit_id", "unit_id"),
        Index("ix_household_building_id", "building_id"),
        Index("ix_household_geom", "geom", postgresql_using="gist"),
        # Households due a visit: only the flagged ones matter.
        Index(
            "ix_household_flagged",
            "community_id",
            postgresql_where=text("cardinality(care_flags) > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    #: 房号, e.g. 302.
    room: Mapped[str | None] = mapped_column(String(32))
    head_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    members: Mapped[int | None] = mapped_column(Integer)
    care_flags: Mapped[list[str]] = mapped_column(
        ARRAY(String(16)), server_default=text("'{}'::varchar[]")
    )
    note: Mapped[str | None] = mapped_column(Text)
    #: Where the file placed it, when it gave a point rather than a unit.
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )
    #: When it was first registered: a flagged household never visited is due from then.
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    visits: Mapped[list[Visit]] = relationship(
        back_populates="household", order_by="Visit.visited_at"
    )


class Visit(Base):
    """A logged visit (走访) to a household: when, by whom, what was found, what follows."""

    __tablename__ = "visit"
    __table_args__ = (Index("ix_visit_household_at", "household_id", "visited_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"))
    visited_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    #: The staff member who visited (grid staff log their own visits).
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    findings: Mapped[str] = mapped_column(Text, server_default=text("''"))
    #: What must follow; it became this incident (routed like any other).
    follow_up: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"))
    logged_by: Mapped[str] = mapped_column(String(120))
    logged_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    household: Mapped[Household] = relationship(back_populates="visits")


class Round(Base):
    """A round (四进): grid inventory, publicity, request collection or help at home."""

    __tablename__ = "field_round"
    __table_args__ = (
        CheckConstraint(check_in("kind", ROUND_KINDS), name="kind"),
        Index("ix_field_round_grid_at", "grid_id", "started_at"),
        Index("ix_field_round_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"))
    #: The place: a grid always (the round's area), and a compound, building or
    #: household where the round was there.
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id", ondelete="SET NULL"))
    compound_id: Mapped[int | None] = mapped_column(ForeignKey("compound.id", ondelete="SET NULL"))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id", ondelete="SET NULL"))
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("household.id", ondelete="SET NULL")
    )
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    #: Who took part beside the staff listed in round_participant (residents, partners).
    others: Mapped[str | None] = mapped_column(String(500))
    findings: Mapped[str] = mapped_column(Text, server_default=text("''"))
    logged_by: Mapped[str] = mapped_column(String(120))
    logged_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class RoundParticipant(Base):
    """A staff member who took part in a round."""

    __tablename__ = "round_participant"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("field_round.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RoundIncident(Base):
    """An incident a round's finding became (a collection round may bring many)."""

    __tablename__ = "round_incident"

    round_id: Mapped[int] = mapped_column(
        ForeignKey("field_round.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True, unique=True
    )
