"""Whose households a viewer may see, and how a resident's personal data is shown to them.

Households are personal data (DESIGN.md, Security). Two rules, each in one place:

- **Which households** (:func:`in_area` as SQL, :func:`holds` in Python, the
  same rule): whoever holds ``households:read`` without an area limit
  (administrators, dispatchers) sees every household; grid staff see those
  their area holds — a household in a unit through that unit (a unit head
  holds only their own unit's, not their building's other units'), a
  household without a unit through its building. It is
  :meth:`gridgis.access.scope.Places.holds` for a place given by building and
  unit, and :func:`gridgis.incidents.views.visible_to` says the same of incidents.
  A household outside the area is "not found", exactly like one that does
  not exist: an id says nothing about households elsewhere.
- **How much of them** (:func:`shown`): the head's name and phone and the
  note in full or masked (``张*``, ``138****1234``, no note) by
  :func:`gridgis.access.privacy.sees_resident_data`, per household.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from gridgis.access.permissions import Principal
from gridgis.access.privacy import Post, mask_name, mask_phone, sees_resident_data
from gridgis.errors import NotFound
from gridgis.models import CARE_FLAG_TERMS, Household

#: The permission to read households and their visits.
READ = "households:read"
#: The permission to log a visit.
WRITE = "visits:write"


def in_area(viewer: Principal, household: Any = Household) -> ColumnElement[bool]:
    """The households ``viewer`` may see, as a clause on ``household`` (an entity or alias)."""
    if not viewer.can(READ) and not viewer.can(WRITE):
        return sa.false()
    scope = viewer.scope
    if scope is None:
        # A grid staff account always has an area; without one it holds nothing.
        return sa.false() if viewer.role == "grid_staff" else sa.true()
    return sa.or_(
        household.unit_id.in_(sorted(scope.unit_ids)),
        sa.and_(household.unit_id.is_(None), household.building_id.in_(sorted(scope.building_ids))),
    )


def holds(viewer: Principal, building_id: int | None, unit_id: int | None) -> bool:
    """:func:`in_area` for one household, in Python."""
    if viewer.scope is None:
        return viewer.role != "grid_staff"
    return viewer.scope.holds(None, building_id, unit_id)


def place(building_id: int | None, unit_id: int | None) -> Post:
    """Where a household lives, as the privacy rule takes a place."""
    return Post(None, building_id, unit_id)


def household_for(
    session: Session, household_id: int, viewer: Principal | None = None
) -> Household:
    """The household ``household_id``, if it exists and (given a viewer) is in their area.

    Raises:
        NotFound: No such household, or one outside the viewer's area (the same answer).
    """
    household = session.get(Household, household_id)
    if household is None or (
        viewer is not None and not holds(viewer, household.building_id, household.unit_id)
    ):
        raise NotFound(f"No household {household_id}.")
    return household


@dataclass(frozen=True)
class Resident:
    """A household's personal data as one viewer may see it."""

    head_name: str
    phone: str
    #: The note (None when masked: notes speak of health and family).
    note: str | None
    masked: bool


def shown(
    viewer: Principal | None,
    building_id: int | None,
    unit_id: int | None,
    head_name: str | None,
    phone: str | None,
    note: str | None,
) -> Resident:
    """The head's name, phone and the note, in full or masked for ``viewer``."""
    if sees_resident_data(viewer, place(building_id, unit_id)):
        return Resident(head_name or "", phone or "", note, masked=False)
    return Resident(mask_name(head_name), mask_phone(phone), None, masked=True)


def flag_terms(flags: list[str] | tuple[str, ...] | None) -> list[dict[str, str]]:
    """Care flags as codes with their Chinese and English names, in the vocabulary's order."""
    given = set(flags or ())
    return [
        {"code": t.code, "zh": t.zh, "en": t.en}
        for t in CARE_FLAG_TERMS.values()
        if t.code in given
    ]
