"""Incidents (事件/诉求): what residents report, its life, its history, and the outbox.

An incident keeps, from the moment it is taken in, the routing snapshot of
DESIGN.md rule 6: where it was located (layout, grid, building, unit), who
was to act (the team, the departments), by which rule, at what distance. The
place ids are plain integers, not foreign keys, and the snapshot is JSON:
later redraws or staff changes never rewrite what happened (FixMyStreet
keeps area ids the same way).

Its life is a sequence of appended events (``incident_event``, append-only in
the database itself, like the audit log); the incident row holds the current
state and the times that deadlines and the "three rates" need.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gridgis.models.base import SRID, Base, check_in
from gridgis.models.roles import Term, _table

#: 受理 → 立案 (or 不予受理 / 合并) → 派遣 → 处置 → 核查 → 结案; 挂账 for long-term issues.
INCIDENT_STATUS_TERMS: Mapping[str, Term] = _table(
    Term("received", "受理", "Received"),
    Term("registered", "立案", "Registered"),
    Term("rejected", "不予立案", "Rejected"),
    Term("merged", "已合并", "Merged"),
    Term("dispatched", "派遣", "Dispatched"),
    Term("in_progress", "处置中", "In progress"),
    Term("checked", "核查", "Being checked"),
    Term("closed", "结案", "Closed"),
    Term("parked", "挂账", "Parked"),
)
INCIDENT_STATUSES = tuple(INCIDENT_STATUS_TERMS)
#: States whose incidents are still someone's work (deadlines run, duplicates count).
OPEN_STATUSES = ("received", "registered", "dispatched", "in_progress", "checked")
#: Open and handed to a team (派遣 onwards): what the team has to act on or wait on.
ASSIGNED_STATUSES = ("dispatched", "in_progress", "checked")

#: Where a report came in.
CHANNEL_TERMS: Mapping[str, Term] = _table(
    Term("hotline_12345", "12345热线", "12345 hotline"),
    Term("mini_program", "小程序", "Mini program"),
    Term("walk_in", "窗口", "Walk-in window"),
    Term("visit", "走访", "Door-to-door visit"),
    Term("phone", "电话", "Telephone"),
    Term("open311", "Open311", "Open311"),
)
CHANNELS = tuple(CHANNEL_TERMS)

#: The resident's answer to the follow-up call (回访), for the satisfaction rate.
SATISFACTION = ("satisfied", "neutral", "unsatisfied")
#: The two deadlines of a category (DESIGN.md, Incident life).
DEADLINES = ("response", "resolution")


class Incident(Base):
    """One report, located and routed at intake, with its current state and deadlines."""

    __tablename__ = "incident"
    __table_args__ = (
        CheckConstraint(check_in("status", INCIDENT_STATUSES), name="status"),
        CheckConstraint(check_in("channel", CHANNELS), name="channel"),
        CheckConstraint(
            "satisfaction IS NULL OR " + check_in("satisfaction", SATISFACTION),
            name="satisfaction",
        ),
        CheckConstraint("(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged_into"),
        # A channel's own number (the hotline's 工单编号) names one incident:
        # importing the same export twice adds nothing.
        UniqueConstraint("channel", "external_id"),
        Index("ix_incident_geom", "geom", postgresql_using="gist"),
        Index("ix_incident_status_community", "status", "community_id"),
        Index("ix_incident_grid_id", "grid_id"),
        # Grid staff's lists: their buildings and units too (migration 0007).
        Index("ix_incident_building_id", "building_id"),
        Index("ix_incident_unit_id", "unit_id"),
        Index("ix_incident_reported_at", "reported_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: Open311's token for a request (GET tokens/{token}); random, not guessable.
    token: Mapped[str] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'received'"))
    channel: Mapped[str] = mapped_column(String(16))
    #: The channel's own id (12345 work-order number), when it has one.
    external_id: Mapped[str | None] = mapped_column(String(64))
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("category.id", ondelete="SET NULL"), index=True
    )
    #: The channel's own classification as it came (the hotline's 问题分类).
    source_category: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, server_default=text("''"))
    address: Mapped[str | None] = mapped_column(String(300))
    #: The point in EPSG:4326 (None: an address that matched nothing).
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=SRID, spatial_index=False)
    )
    #: The coordinates as reported, and their CRS (``gcj02`` from Amap-based systems ...).
    input_crs: Mapped[str | None] = mapped_column(String(32))
    input_lon: Mapped[float | None] = mapped_column(Float)
    input_lat: Mapped[float | None] = mapped_column(Float)
    #: When the resident reported it (the hotline's 受理时间); deadlines run from here.
    reported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_by: Mapped[str] = mapped_column(String(120))
    # The routing snapshot: plain ids (never rewritten by later redraws) ...
    community_id: Mapped[int | None] = mapped_column(Integer)
    layout_id: Mapped[int | None] = mapped_column(Integer)
    grid_id: Mapped[int | None] = mapped_column(Integer)
    building_id: Mapped[int | None] = mapped_column(Integer)
    unit_id: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(32))
    #: ... and the whole result: codes, names, team, departments, distance, explanation.
    routing: Mapped[dict[str, Any]] = mapped_column(JSONB)
    response_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_due_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: When the team took it on (签收), when it was reported done, when it was closed.
    responded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    merged_into_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("incident.id", ondelete="RESTRICT"), index=True
    )
    #: The dispatcher handling it (who may see its reporters in full).
    handled_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL")
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    reporters: Mapped[list[IncidentReporter]] = relationship(
        back_populates="incident", order_by="IncidentReporter.id"
    )
    events: Mapped[list[IncidentEvent]] = relationship(
        back_populates="incident", order_by="IncidentEvent.id"
    )


class IncidentReporter(Base):
    """Who reported an incident (personal data). Merging keeps every reporter."""

    __tablename__ = "incident_reporter"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    added_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    incident: Mapped[Incident] = relationship(back_populates="reporters")


class IncidentEvent(Base):
    """One step of an incident's life: who, when, from, to, why. Append-only."""

    __tablename__ = "incident_event"
    __table_args__ = (Index("ix_incident_event_incident_id", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("incident.id", ondelete="RESTRICT")
    )
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    incident: Mapped[Incident] = relationship(back_populates="events")


class IncidentEscalation(Base):
    """督办: a deadline breached and escalated to the community office, once per breach."""

    __tablename__ = "incident_escalation"
    __table_args__ = (CheckConstraint(check_in("deadline", DEADLINES), name="deadline"),)

    incident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True
    )
    deadline: Mapped[str] = mapped_column(String(16), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class IncidentPhoto(Base):
    """A photo of an incident, stored in the media folder (never in the database)."""

    __tablename__ = "incident_photo"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    #: The file's name in the media folder: random, so it says nothing.
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    uploaded_by: Mapped[str] = mapped_column(String(120))


class OutboxMessage(Base):
    """A notification written in the same transaction as the change it announces.

    ``gridgis worker`` delivers it (at least once; receivers deduplicate by
    ``message_id``), so a crash between the change and the sending loses
    nothing and a change that rolls back sends nothing.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "next_attempt_at",
            postgresql_where=text("delivered_at IS NULL AND failed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: What receivers deduplicate by.
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    #: The configured receiver (a webhook's name).
    destination: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: Given up on after the last retry (kept, with the last error, for a person to see).
    failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
