"""Who may see a person's name and phone: one rule, decided per person.

Names and phone numbers are personal data (DESIGN.md, Security). Every
surface that shows a person (map popups, routing answers single and batch,
the layer API, exports, and what comes next) asks this module about that one
person and shows either the full contact or the masked one, the way Chinese
public notices do: ``张*`` and ``138****1234``. ``tests/web/test_privacy.py``
walks the roles × surfaces and checks that no surface disagrees with it.

- **Staff work contacts** (the 1+1+1+N team's names and phones,
  :func:`sees_staff_contact`): in full for whoever holds ``contacts:read``
  without an area limit (administrators, dispatchers — they call the team —
  and the command line), and for grid staff when the person serves in their
  own grid team (:attr:`gridgis.access.scope.Scope.team`); masked for
  planners, viewers, API clients and staff of other grids.
- **Residents' personal data** (households, care flags, reporters' names and
  phones, :func:`sees_resident_data`): in full for whoever holds
  ``personal:read`` without an area limit (administrators), for grid staff
  whose area holds the place, and for the dispatcher handling the incident;
  masked for everyone else inside the app.
- Never: public Open311 output, logs, tiles (those surfaces do not ask).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gridgis.access.permissions import Principal

_NOT_DIGIT = re.compile(r"\D")


def mask_name(name: str | None) -> str:
    """Keep the first character (the surname, usually) and star the rest.

    Args:
        name: A person's name, e.g. ``张三`` or ``李四光``.

    Returns:
        ``张*``, ``李**``; a one-character name becomes ``*`` since the surname
        alone would identify it; empty for no name.
    """
    name = (name or "").strip()
    if not name:
        return ""
    if len(name) == 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str:
    """Show the first three and last four digits of a phone number.

    Args:
        phone: A phone number in any punctuation (``138-1234-1234``).

    Returns:
        ``138****1234`` for an 11-digit mobile number. Numbers too short to keep
        seven digits visible without revealing them keep only the last two;
        four digits or fewer are starred entirely.
    """
    digits = _NOT_DIGIT.sub("", phone or "")
    if not digits:
        return ""
    if len(digits) >= 10:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 2) + digits[-2:]


@dataclass(frozen=True)
class Post:
    """Where a staff member serves in one role: a grid, a building or a unit."""

    grid_id: int | None = None
    building_id: int | None = None
    unit_id: int | None = None


def sees_staff_contact(viewer: Principal | None, post: Post) -> bool:
    """Whether ``viewer`` sees in full the name and phone of whoever serves at ``post``.

    Args:
        viewer: Who is looking (None: nobody in particular, so masked).
        post: The grid, building or unit the person serves in this role.
    """
    if viewer is None or not viewer.can("contacts:read"):
        return False
    if viewer.scope is None:
        return True
    return viewer.scope.team.holds(post.grid_id, post.building_id, post.unit_id)


def sees_resident_data(
    viewer: Principal | None, place: Post, *, handles_incident: bool = False
) -> bool:
    """Whether ``viewer`` sees in full the personal data of residents at ``place``.

    Args:
        viewer: Who is looking (None: nobody in particular, so masked).
        place: Where the household lives or the incident happened.
        handles_incident: The viewer is the dispatcher handling the incident
            the data belongs to (a reporter's name and phone).
    """
    if viewer is None:
        return False
    if handles_incident and viewer.role == "dispatcher":
        return True
    if not viewer.can("personal:read"):
        return False
    if viewer.scope is None:
        return True
    return viewer.scope.holds(place.grid_id, place.building_id, place.unit_id)


@dataclass(frozen=True)
class Contact:
    """A person's name and phone as one viewer may see them."""

    name: str
    phone: str
    masked: bool


def staff_contact(
    viewer: Principal | None, post: Post, name: str | None, phone: str | None
) -> Contact:
    """The name and phone of whoever serves at ``post``, in full or masked for ``viewer``."""
    if sees_staff_contact(viewer, post):
        return Contact(name or "", phone or "", masked=False)
    return Contact(mask_name(name), mask_phone(phone), masked=True)
