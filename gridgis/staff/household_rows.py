"""What the household lists of :mod:`gridgis.staff.households` return, as a viewer sees it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from gridgis.staff.residents import flag_terms


@dataclass(frozen=True)
class HouseholdRow:
    """One household as a viewer sees it, with where it is due in the schedule."""

    id: int
    code: str
    community_id: int
    building_id: int
    building_code: str
    building_name: str | None
    unit_id: int | None
    unit_number: str | None
    room: str | None
    members: int | None
    flags: tuple[str, ...]
    last_visit_at: dt.datetime | None
    due_on: dt.date | None
    #: ``overdue``, ``due``, ``not_due``, or None (no care flag: never due).
    status: str | None
    #: Days past ``due_on`` (0 unless overdue).
    overdue_days: int
    head_name: str
    phone: str
    note: str | None
    masked: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe fields (times ISO 8601), flags with their names."""
        return {
            "id": self.id,
            "code": self.code,
            "building": {
                "id": self.building_id,
                "code": self.building_code,
                "name": self.building_name,
            },
            "unit": None
            if self.unit_id is None
            else {"id": self.unit_id, "number": self.unit_number},
            "room": self.room,
            "members": self.members,
            "flags": flag_terms(self.flags),
            "last_visit_at": self.last_visit_at.isoformat() if self.last_visit_at else None,
            "due_on": self.due_on.isoformat() if self.due_on else None,
            "status": self.status,
            "overdue_days": self.overdue_days,
            "head_name": self.head_name,
            "phone": self.phone,
            "note": self.note,
            "masked": self.masked,
        }


@dataclass(frozen=True)
class BuildingCounts:
    """A building's households in the viewer's area: how many, flagged, due, overdue."""

    building_id: int
    building_code: str
    households: int
    flagged: int
    due: int
    overdue: int


@dataclass(frozen=True)
class VisitShown:
    """One visit as a viewer sees it (findings only for who sees the residents in full)."""

    id: int
    visited_at: dt.datetime
    staff_code: str | None
    staff_name: str
    findings: str | None
    follow_up: str | None
    incident_id: int | None
    logged_by: str
    #: When it was logged (a visit logged days later shows here).
    logged_at: dt.datetime


@dataclass(frozen=True)
class HouseholdDetail:
    """One household and its visits, newest first."""

    household: HouseholdRow
    visits: list[VisitShown] = field(default_factory=list)
