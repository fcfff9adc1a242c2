"""Open311 GeoReport v2, framework-free: categories, incidents and errors as the spec's dicts.

The web layer (``web/open311.py``) renders these dicts as XML or JSON; the
mapping follows http://wiki.open311.org/GeoReport_v2 field for field:

- A *service* is an incident category: ``service_code`` is its code,
  ``service_name`` its Chinese name (English with ``lang=en``). A category's
  volunteer team and property flag stay internal; what a client is asked
  follows from them (:func:`attributes_of`): help for people asks whether it
  is urgent, property issues ask whether it is in a common area or a home.
- A *service request* is an incident, of any channel: ``service_request_id``
  is its id, ``status`` is ``open`` or ``closed`` (closed, rejected and
  merged), and ``extended_attributes`` carry the detailed status, the channel
  and the grid. ``status_notes`` is made from the status vocabulary, never
  from a person's note: notes may name people.
- A ``jurisdiction_id`` is a community code.

Nothing here ever reads a reporter or a staff member's name or phone: the
reporter fields of a POST are stored as the incident's reporter (through
:func:`gridgis.incidents.intake.take_in`) and never come back out. Email,
device id and account id are not kept at all (no use to the office, so not
collected). Reading the clients' input, filing and finding requests:
:mod:`gridgis.incidents.open311_requests`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from gridgis import clock
from gridgis.errors import GridgisError, NotFound
from gridgis.models import (
    CHANNEL_TERMS,
    INCIDENT_STATUS_TERMS,
    Category,
    Community,
    Incident,
)

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: Statuses that Open311 calls ``closed``; every other status is ``open``.
CLOSED = ("closed", "rejected", "merged")
#: What PostgreSQL text cannot hold: a value with it matches nothing and is refused.
NUL = "\x00"


@dataclass(frozen=True)
class Choice:
    """One option of a list attribute."""

    key: str
    zh: str
    en: str


@dataclass(frozen=True)
class Attribute:
    """A question a service asks (GeoReport's service definition ``attribute``)."""

    code: str
    datatype: str
    required: bool
    zh: str
    en: str
    values: tuple[Choice, ...] = ()
    order: int = 1

    def to_dict(self, lang: str) -> dict[str, Any]:
        return {
            "variable": True,
            "code": self.code,
            "datatype": self.datatype,
            "required": self.required,
            "datatype_description": None,
            "order": self.order,
            "description": self.en if lang == "en" else self.zh,
            "values": [{"key": c.key, "name": c.en if lang == "en" else c.zh} for c in self.values],
        }


URGENT = Attribute(
    "urgent",
    "singlevaluelist",
    True,
    "情况紧急吗（如老人摔倒、突发疾病）？",
    "Is it urgent (a fall, a sudden illness)?",
    (Choice("yes", "紧急", "Urgent"), Choice("no", "不紧急", "Not urgent")),
)
AREA = Attribute(
    "area",
    "singlevaluelist",
    False,
    "问题在公共区域还是户内？",
    "Is the problem in a common area or inside a home?",
    (
        Choice("common", "公共区域（楼道、电梯、小区道路）", "Common area (stairs, lift, paths)"),
        Choice("home", "户内", "Inside a home"),
    ),
)
#: Service groups: (zh, en).
GROUPS = {
    "assistance": ("帮扶服务", "Assistance"),
    "property": ("物业服务", "Property"),
    "enforcement": ("联合执法", "Joint enforcement"),
    "community": ("社区事务", "Community affairs"),
}


def attributes_of(category: Category) -> tuple[Attribute, ...]:
    """What a client is asked when filing ``category`` (nothing internal shows)."""
    asked = [
        a
        for a, wanted in ((URGENT, category.volunteer_team), (AREA, category.is_property))
        if wanted
    ]
    return tuple(replace(a, order=i) for i, a in enumerate(asked, 1))


def _pick(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def _hours(hours: float) -> str:
    return f"{hours:g}"


def service(category: Category, lang: str = "zh") -> dict[str, Any]:
    """One entry of GET services: the category as a client sees it."""
    departments = [d.name for d in category.departments]
    working = category.deadline_basis == "working"
    if category.volunteer_team:
        group = "assistance"
    elif category.is_property:
        group = "property"
    else:
        group = "enforcement" if departments else "community"
    description = _pick(
        lang,
        "由事发地所在网格的网格团队处理"
        + (f"，并转交{'、'.join(departments)}" if departments else "")
        + f"。{_hours(category.response_hours)}小时内响应，"
        f"{_hours(category.resolution_hours)}小时内办结"
        f"（{'工作时间' if working else '自然时间'}）。",
        "Handled by the grid team of the place"
        + (f", with {', '.join(departments)}" if departments else "")
        + f". Response within {_hours(category.response_hours)} hours, resolution within "
        f"{_hours(category.resolution_hours)} hours ({'working' if working else 'calendar'} time).",
    )
    return {
        "service_code": category.code,
        "service_name": _pick(lang, category.name_zh, category.name_en),
        "description": description,
        "metadata": bool(attributes_of(category)),
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys([category.name_zh, category.name_en, category.code])),
        "group": _pick(lang, *GROUPS[group]),
    }


def services(session: Session, lang: str = "zh") -> list[dict[str, Any]]:
    """GET services: every category, by code."""
    categories = session.scalars(
        sa.select(Category).options(selectinload(Category.departments)).order_by(Category.code)
    )
    return [service(c, lang) for c in categories]


def category_by_code(session: Session, code: str) -> Category:
    """The category a ``service_code`` names.

    Raises:
        NotFound: No category has this code.
    """
    category = None
    if NUL not in code:
        category = session.scalar(sa.select(Category).where(Category.code == code))
    if category is None:
        raise NotFound(f"service_code {code!r} was not found; GET services lists the codes.")
    return category


def service_definition(session: Session, code: str, lang: str = "zh") -> dict[str, Any]:
    """GET services/{code}: the questions a service asks.

    Raises:
        NotFound: No category has this code.
    """
    category = category_by_code(session, code)
    return {
        "service_code": category.code,
        "attributes": [a.to_dict(lang) for a in attributes_of(category)],
    }


def jurisdiction(session: Session, jurisdiction_id: str | None) -> int | None:
    """The id of the community a ``jurisdiction_id`` names (None when none was given).

    Raises:
        NotFound: No community has this code.
    """
    if not jurisdiction_id:
        return None
    found = None
    if NUL not in jurisdiction_id:
        found = session.scalar(sa.select(Community.id).where(Community.code == jurisdiction_id))
    if found is None:
        raise NotFound(
            f"jurisdiction_id {jurisdiction_id!r} was not found; it is the code of a "
            "community (社区代码), or leave it out."
        )
    return found


def notice(incident: Incident, lang: str = "zh") -> str | None:
    """What will happen next (GeoReport's ``service_notice``); None once closed."""
    if incident.status in CLOSED:
        return None
    who = agency(incident.routing or {}, lang) or _pick(lang, "社区受理员", "the dispatchers")
    due = incident.resolution_due_at
    return _pick(
        lang,
        f"已受理，由{who}处理" + (f"，预计{clock.show(due)}前办结。" if due else "。"),
        f"Taken in, for {who}"
        + (f"; expected to be resolved by {clock.show(due)}." if due else "."),
    )


def agency(routing: Mapping[str, Any], lang: str = "zh") -> str | None:
    """GeoReport's ``agency_responsible``: the routed grid and the departments, by name."""
    names = []
    grid = routing.get("grid_name") or routing.get("grid_code")
    if grid:
        zh = f"{grid}团队" if routing.get("grid_name") else f"网格 {grid} 团队"
        names.append(_pick(lang, zh, f"the grid team of {grid}"))
    names += [d["name"] for d in routing.get("departments") or () if d.get("name")]
    return _pick(lang, "、", ", ").join(names) or None


def status_notes(incident: Incident, lang: str = "zh") -> str:
    """GeoReport's ``status_notes``, from the status vocabulary (never a person's note)."""
    if incident.status == "merged" and incident.merged_into_id is not None:
        into = incident.merged_into_id
        return _pick(
            lang, f"重复诉求，已合并至诉求 {into}。", f"Duplicate request, merged into {into}."
        )
    return INCIDENT_STATUS_TERMS[incident.status].name(lang)


def w3(moment: dt.datetime | None) -> str | None:
    """A time as the spec writes it: ISO 8601 with its offset, in the display zone."""
    return clock.local(moment).isoformat(timespec="seconds") if moment is not None else None


def request_dict(
    incident: Incident, category: Category | None, media_url: str | None, lang: str = "zh"
) -> dict[str, Any]:
    """One ``request`` of GET requests: the incident without anyone's name or phone."""
    routing = incident.routing or {}
    lon, lat = routing.get("lon"), routing.get("lat")
    point = (
        (round(float(lat), 7), round(float(lon), 7))
        if incident.geom is not None and lat is not None and lon is not None
        else (None, None)
    )
    closed = incident.status in CLOSED
    return {
        "service_request_id": incident.id,
        "status": "closed" if closed else "open",
        "status_notes": status_notes(incident, lang),
        "service_name": _pick(lang, category.name_zh, category.name_en) if category else None,
        "service_code": category.code if category else None,
        "description": incident.description or None,
        "agency_responsible": agency(routing, lang),
        "service_notice": notice(incident, lang),
        "requested_datetime": w3(incident.reported_at),
        "updated_datetime": w3(
            incident.closed_at if closed and incident.closed_at else incident.updated_at
        ),
        "expected_datetime": w3(incident.resolution_due_at),
        "address": incident.address,
        "address_id": routing.get("building_code"),
        "zipcode": None,
        "lat": point[0],
        "long": point[1],
        "media_url": media_url,
        "extended_attributes": {
            "detailed_status": incident.status,
            "detailed_status_name": INCIDENT_STATUS_TERMS[incident.status].name(lang),
            "channel": incident.channel,
            "channel_name": CHANNEL_TERMS[incident.channel].name(lang),
            "community": routing.get("community_code"),
            "grid": routing.get("grid_code"),
            "grid_name": routing.get("grid_name"),
        },
    }


#: When the shape of this endpoint's services or definitions last changed (a release).
CHANGESET = "2026-12-02T00:00:00+08:00"


def discovery(url: str, lang: str = "zh") -> dict[str, Any]:
    """The service discovery document (http://wiki.open311.org/Service_Discovery).

    Args:
        url: Where this GeoReport v2 endpoint is reached (``https://.../open311/v2``).
        lang: ``zh`` or ``en`` for the human-readable fields.
    """
    return {
        "changeset": CHANGESET,
        "contact": _pick(
            lang,
            "请联系为您开通 API 密钥的社区办公室。",
            "Ask the community office that gave you your API key.",
        ),
        "key_service": _pick(
            lang,
            "API 密钥由管理员创建：gridgis apikey add 名称 --scope open311:write"
            "（读取诉求另需 incidents:read）。",
            "The administrator makes keys with `gridgis apikey add NAME --scope open311:write` "
            "(reading requests also needs incidents:read).",
        ),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def errors_of(error: GridgisError) -> tuple[int, list[dict[str, Any]]]:
    """The HTTP status and the spec's list of ``{code, description}`` for ``error``.

    As the spec asks: 403 for a missing or wrong ``api_key`` (and any other
    refusal), 404 for what does not exist, 400 for any other request that
    cannot be fulfilled; the server's own failures keep their 5xx status, and
    "too large" and "too many requests" keep 413 and 429, so that a client
    knows to send less or to slow down rather than to fix its request.
    Each line of the error's details is an error of its own.
    """
    status = error.http_status
    if status == 401:
        status = 403
    elif status < 500 and status not in (403, 404, 413, 429):
        status = 400
    return status, [
        {"code": status, "description": text} for text in (error.user_msg, *error.details)
    ]
