"""What the dispatcher sees before saving a new incident: the team, the deadlines, duplicates.

The console's new-incident form asks this on every click on the map (or typed
address): where the place routes to and who would act (contacts as the
privacy rule allows: dispatchers see them, they will call), when the
deadlines would fall, and which open incidents nearby may be the same. Nothing
is stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.errors import InvalidInput
from gridgis.incidents import deadlines
from gridgis.incidents.duplicates import nearby_open_at
from gridgis.incidents.views import summary, visible_to
from gridgis.models import Category
from gridgis.models.roles import role_name
from gridgis.routing.addresses import route_address
from gridgis.routing.points import route_point


def preview(
    session: Session,
    *,
    viewer: Principal,
    lon: float | None = None,
    lat: float | None = None,
    crs: str | None = "EPSG:4326",
    address: str | None = None,
    category: str | None = None,
    at: dt.datetime | None = None,
    lang: str = "zh",
) -> dict[str, Any]:
    """The routing answer, deadlines and nearby duplicates of a report not yet taken in.

    Raises:
        InvalidInput: No place, an unknown category, a bad coordinate (as routing says).
    """
    at = at or clock.now()
    found = (
        session.scalar(sa.select(Category).where(Category.code == category)) if category else None
    )
    if category and found is None:
        raise InvalidInput(f"Unknown category {category!r}.")
    if lon is not None and lat is not None:
        result = route_point(session, lon, lat, crs=crs, category=category, at=at)
    elif address and address.strip():
        result = route_address(session, address, category=category, at=at, within=viewer.scope)
    else:
        raise InvalidInput("Click the map, or type an address.")
    routing = result.to_dict(viewer)
    for member in routing.get("team", []):
        member["role_name"] = role_name(member["role"], lang)
    answer: dict[str, Any] = {
        "routing": routing,
        "deadlines": None,
        "duplicates": [],
    }
    if found is not None:
        response = deadlines.due(at, found.response_hours, found.deadline_basis)
        resolution = deadlines.due(at, found.resolution_hours, found.deadline_basis)
        answer["deadlines"] = {
            "response_due_at": response.at.isoformat(),
            "resolution_due_at": resolution.at.isoformat(),
            # Past the years the official calendar covers: the dates may move.
            "assumed": response.assumed or resolution.assumed,
        }
    if result.lon is not None and result.lat is not None and result.rule != "outside_coverage":
        nearby = nearby_open_at(
            session,
            (result.lon, result.lat),
            found.id if found else None,
            at,
            where=visible_to(viewer),
        )
        categories = {found.id: found} if found is not None else {}
        answer["duplicates"] = [
            summary(incident, categories.get(incident.category_id or -1), lang)
            for incident in nearby
        ]
    return answer
