"""Open311 GeoReport v2 requests, framework-free: the clients' input, filing, finding.

Filing (POST requests) takes the request in through
:func:`gridgis.incidents.intake.take_in` on the ``open311`` channel: the
service is the category, the reporter's name and phone are stored as the
incident's reporter (never shown again here), ``media_url`` and the
attributes are kept as they came in the intake event (the URL is not
fetched). Reading (GET requests, requests/{id}, tokens/{token}) answers
incidents of every channel, as the spec's dicts, for those who may read
incidents (grid staff: their own area's). The dicts themselves (services,
requests, errors) are made by :mod:`gridgis.incidents.open311`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.errors import InvalidInput, NotFound
from gridgis.incidents.intake import Report, take_in
from gridgis.incidents.open311 import (
    CLOSED,
    NUL,
    attributes_of,
    category_by_code,
    jurisdiction,
    notice,
    request_dict,
)
from gridgis.incidents.views import visible_to
from gridgis.models import Category, Incident, IncidentEvent

#: The spec's default answer: at most 1000 requests, over at most 90 days.
MAX_REQUESTS = 1000
MAX_SPAN = dt.timedelta(days=90)
#: The spec's limit on a description.
MAX_DESCRIPTION = 4000
MAX_MEDIA_URL = 500
#: Longest id a client may send (a bigint has 19 digits).
MAX_ID_DIGITS = 18
_ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Submission:
    """A parsed POST requests: what to take in, and what to keep beside it."""

    service_code: str
    report: Report
    attributes: dict[str, list[str]]
    jurisdiction_id: str | None = None


def parse_submission(fields: Iterable[tuple[str, str]]) -> Submission:
    """Read the form of POST requests (each field as many times as it came).

    Raises:
        InvalidInput: Every problem found, one per line (the first is the message).
    """
    single: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}
    problems: list[str] = []
    for key, value in fields:
        if NUL in key or NUL in value:
            # PostgreSQL cannot hold it, nor compare with it.
            problems.append(f"{key!r} contains a NUL character (\\0); remove it.")
            continue
        matched = _ATTRIBUTE_KEY.match(key)
        if matched:
            attributes.setdefault(matched.group(1), []).append(value.strip())
        else:
            single.setdefault(key, value.strip())
    code = single.get("service_code", "")
    if not code:
        problems.append("service_code was not provided; GET services lists the codes.")
    lon = lat = None
    if single.get("lat") or single.get("long"):
        lat = _number(single.get("lat"), "lat", 90, problems)
        lon = _number(single.get("long"), "long", 180, problems)
    address = single.get("address_string") or None
    lost = any(p.startswith(("lat ", "long ")) for p in problems)
    if lat is None and lon is None and not address and not lost:
        problems.append(
            "A location was not provided: send lat and long (WGS-84), or address_string."
            + (" address_id is not supported here." if single.get("address_id") else "")
        )
    description = single.get("description", "")
    if len(description) > MAX_DESCRIPTION:
        problems.append(
            f"description is {len(description)} characters long; at most {MAX_DESCRIPTION}."
        )
    media_url = single.get("media_url") or None
    if media_url and (
        len(media_url) > MAX_MEDIA_URL or not re.match(r"^https?://[^\s]+$", media_url)
    ):
        problems.append(f"media_url must be an http(s) URL of at most {MAX_MEDIA_URL} characters.")
    if problems:
        raise InvalidInput(problems[0], details=problems[1:])
    sources = {"media_url": media_url} if media_url else {}
    sources.update({f"attribute[{k}]": ",".join(v) for k, v in sorted(attributes.items())})
    report = Report(
        channel="open311",
        category=code,
        description=description,
        lon=lon,
        lat=lat,
        crs=single.get("crs") or "EPSG:4326",
        address=address,
        reporter_name=_name(single.get("first_name", ""), single.get("last_name", "")),
        reporter_phone=single.get("phone") or None,
        source_fields=sources or None,
    )
    return Submission(code, report, attributes, single.get("jurisdiction_id") or None)


def _number(text: str | None, name: str, limit: float, problems: list[str]) -> float | None:
    if not text:
        problems.append(f"{name} was not provided: lat and long go together.")
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > limit:
        problems.append(f"{name} {text!r} is not a number between -{limit:g} and {limit:g}.")
        return None
    return value


def _name(first: str, last: str) -> str | None:
    # Chinese names are written family name first, without a space.
    if _CJK.search(first + last):
        return (last + first).strip() or None
    return f"{first} {last}".strip() or None


def check_attributes(category: Category, given: Mapping[str, list[str]]) -> None:
    """Refuse answers the service does not ask, values not offered, and missing required ones.

    Raises:
        InvalidInput: Every problem, one per line.
    """
    asked = {a.code: a for a in attributes_of(category)}
    problems = [
        f"attribute[{code}] is not asked by service {category.code!r}; "
        f"GET services/{category.code} lists its attributes."
        for code in sorted(set(given) - set(asked))
    ]
    for code, attribute in asked.items():
        values = [v for v in given.get(code, []) if v]
        if not values:
            if attribute.required:
                problems.append(f"attribute[{code}] is required by service {category.code!r}.")
            continue
        keys = [c.key for c in attribute.values]
        if attribute.datatype == "singlevaluelist" and len(values) > 1:
            problems.append(f"attribute[{code}] takes one value; got {len(values)}.")
        if keys and any(v not in keys for v in values):
            problems.append(f"attribute[{code}] must be one of {', '.join(keys)}.")
    if problems:
        raise InvalidInput(problems[0], details=problems[1:])


def submit(
    session: Session, fields: Iterable[tuple[str, str]], *, actor: Principal, lang: str = "zh"
) -> list[dict[str, Any]]:
    """POST requests: take the request in on the ``open311`` channel (flushed, not committed).

    Raises:
        InvalidInput: Bad or missing fields, a place that cannot be located or
            lies outside the jurisdiction given.
        NotFound: Unknown service_code or jurisdiction_id.
        OutsideCoverage: The place is outside every community.
    """
    submission = parse_submission(fields)
    community_id = jurisdiction(session, submission.jurisdiction_id)
    category = category_by_code(session, submission.service_code)
    check_attributes(category, submission.attributes)
    incident = take_in(session, submission.report, actor=actor).incident
    if community_id is not None and incident.community_id != community_id:
        raise InvalidInput(
            f"The place is not in jurisdiction {submission.jurisdiction_id!r}; "
            "check the point or the address, or leave jurisdiction_id out."
        )
    return [
        {
            "service_request_id": incident.id,
            "token": incident.token,
            "service_notice": notice(incident, lang),
            "account_id": None,
        }
    ]


@dataclass(frozen=True)
class RequestFilter:
    """The arguments of GET requests, read and checked."""

    ids: tuple[int, ...] = ()
    codes: tuple[str, ...] = ()
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    #: ``open``, ``closed`` or both (empty: both).
    statuses: tuple[str, ...] = ()


def parse_filter(args: Iterable[tuple[str, str]]) -> RequestFilter:
    """Read GET requests' arguments; a repeated argument counts as a comma-delimited list.

    ``service_request_id`` overrides every other argument, as the spec says;
    without it the dates default to the most recent 90 days and may not span more.

    Raises:
        InvalidInput: Every problem, one per line.
    """
    lists: dict[str, list[str]] = {}
    problems: list[str] = []
    for key, value in args:
        if NUL in value:
            problems.append(f"{key!r} contains a NUL character (\\0); remove it.")
            continue
        lists.setdefault(key, []).extend(v.strip() for v in value.split(",") if v.strip())
    ids = [_id(text, problems) for text in lists.get("service_request_id", [])]
    if ids:
        if problems:
            raise InvalidInput(problems[0], details=problems[1:])
        return RequestFilter(ids=tuple(i for i in ids if i is not None))
    start, end = (_time(lists.get(name), name, problems) for name in ("start_date", "end_date"))
    if end is None:
        end = start + MAX_SPAN if start is not None else clock.now()
    start = start or end - MAX_SPAN
    if start > end:
        problems.append("start_date is after end_date.")
    elif end - start > MAX_SPAN:
        problems.append("start_date and end_date may not span more than 90 days.")
    statuses = tuple(dict.fromkeys(lists.get("status", [])))
    if any(s not in ("open", "closed") for s in statuses):
        problems.append("status must be open, closed, or both (comma-delimited).")
    if problems:
        raise InvalidInput(problems[0], details=problems[1:])
    codes = tuple(dict.fromkeys(lists.get("service_code", [])))
    return RequestFilter((), codes, start, end, statuses)


def _id(text: str, problems: list[str]) -> int | None:
    if text.isdigit() and len(text) <= MAX_ID_DIGITS:
        return int(text)
    problems.append(f"service_request_id {text!r} is not a request id (a whole number).")
    return None


def _time(values: list[str] | None, name: str, problems: list[str]) -> dt.datetime | None:
    try:
        return clock.parse_time(values[0] if values else None, name)
    except InvalidInput as exc:
        problems.append(exc.user_msg)
        return None


def find_requests(
    session: Session,
    wanted: RequestFilter,
    viewer: Principal,
    *,
    community_id: int | None = None,
    lang: str = "zh",
) -> list[dict[str, Any]]:
    """GET requests: the incidents ``viewer`` may see that match, newest first (at most 1000)."""
    query = (
        sa.select(Incident, Category)
        .outerjoin(Category, Category.id == Incident.category_id)
        .where(visible_to(viewer))
    )
    if community_id is not None:
        query = query.where(Incident.community_id == community_id)
    if wanted.ids:
        query = query.where(Incident.id.in_(wanted.ids))
    else:
        if wanted.codes:
            query = query.where(Category.code.in_(wanted.codes))
        if wanted.start is not None:
            query = query.where(Incident.reported_at >= wanted.start)
        if wanted.end is not None:
            query = query.where(Incident.reported_at <= wanted.end)
        if set(wanted.statuses) == {"open"}:
            query = query.where(Incident.status.not_in(CLOSED))
        elif set(wanted.statuses) == {"closed"}:
            query = query.where(Incident.status.in_(CLOSED))
    rows = session.execute(
        query.order_by(Incident.reported_at.desc(), Incident.id.desc()).limit(MAX_REQUESTS)
    ).all()
    media = _media_urls(session, [i.id for i, _ in rows if i.channel == "open311"])
    return [request_dict(i, c, media.get(i.id), lang) for i, c in rows]


def _media_urls(session: Session, ids: list[int]) -> dict[int, str]:
    """The ``media_url`` each Open311 request came with (kept in its intake event)."""
    if not ids:
        return {}
    events = session.execute(
        sa.select(IncidentEvent.incident_id, IncidentEvent.data).where(
            IncidentEvent.incident_id.in_(ids), IncidentEvent.action == "take_in"
        )
    )
    found = {}
    for incident_id, data in events:
        url = ((data or {}).get("source") or {}).get("media_url")
        if isinstance(url, str) and url:
            found[incident_id] = url
    return found


def find_request(
    session: Session,
    text: str,
    viewer: Principal,
    *,
    community_id: int | None = None,
    lang: str = "zh",
) -> list[dict[str, Any]]:
    """GET requests/{id}: one request, as a list of one.

    Raises:
        NotFound: No such request, or one ``viewer`` may not see (the same answer).
    """
    problems: list[str] = []
    found = None
    request_id = _id(text, problems)
    if request_id is not None:
        wanted = RequestFilter(ids=(request_id,))
        found = find_requests(session, wanted, viewer, community_id=community_id, lang=lang)
    if not found:
        raise NotFound(f"service_request_id {text!r} was not found.")
    return found


def find_token(session: Session, token: str) -> list[dict[str, Any]]:
    """GET tokens/{token}: the request the token was given for.

    Raises:
        NotFound: No request has this token.
    """
    found = None
    if NUL not in token:
        found = session.scalar(sa.select(Incident.id).where(Incident.token == token[:64]))
    if found is None:
        raise NotFound(f"token {token!r} was not found.")
    return [{"service_request_id": found, "token": token}]
