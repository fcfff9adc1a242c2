"""Staff members as one viewer may see them: the name in full or masked, person by person.

A person may serve at several posts (a grid, a building, a unit); the one
privacy rule (:func:`gridgis.access.privacy.sees_staff_contact`) is asked
about each, and the name is shown in full where any one of them allows it.
Listings of rounds and the monthly report name people through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.permissions import Principal
from gridgis.access.privacy import Post, mask_name, sees_staff_contact
from gridgis.models import Assignment, Staff


@dataclass(frozen=True)
class Person:
    """A staff member as one viewer may see them: the name in full or masked."""

    staff_id: int
    code: str
    name: str
    masked: bool


def people_shown_to(
    session: Session, viewer: Principal | None, staff_ids: Iterable[int]
) -> dict[int, Person]:
    """Staff by id, each name in full or masked for ``viewer`` (two statements).

    A person may serve at several posts (a grid, a building, a unit): their
    name is shown in full where the privacy rule
    (:func:`gridgis.access.privacy.sees_staff_contact`) allows it at any one of
    them; someone with no post is shown in full only to those who see every
    contact.
    """
    ids = sorted(set(staff_ids))
    if not ids:
        return {}
    posts: dict[int, list[Post]] = {}
    for staff_id, grid_id, building_id, unit_id in session.execute(
        sa.select(
            Assignment.staff_id, Assignment.grid_id, Assignment.building_id, Assignment.unit_id
        ).where(Assignment.staff_id.in_(ids))
    ):
        posts.setdefault(staff_id, []).append(Post(grid_id, building_id, unit_id))
    shown = {}
    for staff_id, code, name in session.execute(
        sa.select(Staff.id, Staff.code, Staff.name).where(Staff.id.in_(ids))
    ):
        full = any(sees_staff_contact(viewer, p) for p in posts.get(staff_id) or [Post()])
        shown[staff_id] = Person(staff_id, code, name if full else mask_name(name), not full)
    return shown
