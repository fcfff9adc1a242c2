"""Open311 GeoReport v2 under ``/open311/v2/``: discovery, services and service requests.

Every resource answers in the format its name ends with, ``.xml`` (the
spec's required format) or ``.json``:

- ``GET discovery`` — the endpoint, its formats and how to get a key (public).
- ``GET services``, ``GET services/{code}`` — the incident categories and the
  questions each asks (public: the catalogue holds nothing personal).
- ``POST requests`` — file a request; the form's ``api_key`` is a key with the
  scope ``open311:write`` (``gridgis apikey add NAME --scope open311:write``).
- ``GET requests``, ``GET requests/{id}`` — incidents of every channel, for a
  key (or a login) with ``incidents:read``: unlike the spec's default, reads
  are not public here, because an incident's place, category and the
  resident's own words can point at a person (a lone elderly resident's
  door). No output ever holds a reporter's or a staff member's name or phone.
- ``GET tokens/{token}`` — the request a token was given for, to the client
  that filed it (``open311:write``).

``jurisdiction_id`` is a community code (optional); ``lang=en`` gives English
names (Chinese by default). Errors are the spec's list of ``{code,
description}`` in the asked format, with 400, 403 (a missing or wrong
``api_key``) or 404; they are rendered here, not by the app's JSON error
handler. The mapping itself is framework-free: :mod:`gridgis.incidents.open311`
and :mod:`gridgis.incidents.open311_requests`.
"""

from __future__ import annotations

import re

# Only builds XML (every value escaped by ElementTree); nothing here parses XML.
import xml.etree.ElementTree as ET  # nosec B405
from typing import Any

from flask import Blueprint, current_app, request
from werkzeug.wrappers import Response

from gridgis.access.permissions import PERMISSIONS, PUBLIC, Forbidden, Unauthenticated
from gridgis.errors import GridgisError, NotFound
from gridgis.incidents import open311, open311_requests
from web import db
from web.errors import as_gridgis_error
from web.i18n import normalise
from web.security import CsrfFailed, current_principal, permission_of, requires

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

MIMETYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
#: The element of each item of a list, by the list's own element (the spec's Spark convention).
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
#: Characters XML 1.0 cannot hold at all, even escaped.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: Form fields that are not the request's own.
NOT_FIELDS = ("api_key", "lang")


@bp.get("/discovery.<fmt>")
@requires(PUBLIC)
def discovery(fmt: str) -> Response:
    """Service discovery: this endpoint, its formats, how to get a key."""
    fmt = _format(fmt)
    url = request.url_root.rstrip("/") + (bp.url_prefix or "")
    return _answer(fmt, "discovery", open311.discovery(url, _lang()))


@bp.get("/services.<fmt>")
@requires(PUBLIC)
def services(fmt: str) -> Response:
    """The services: one per incident category."""
    fmt = _format(fmt)
    session = db.get_session()
    open311.jurisdiction(session, request.args.get("jurisdiction_id"))
    return _answer(fmt, "services", open311.services(session, _lang()))


@bp.get("/services/<code>.<fmt>")
@requires(PUBLIC)
def service_definition(code: str, fmt: str) -> Response:
    """A service's definition: the attributes a client is asked for."""
    fmt = _format(fmt)
    session = db.get_session()
    open311.jurisdiction(session, request.args.get("jurisdiction_id"))
    return _answer(fmt, "service_definition", open311.service_definition(session, code, _lang()))


@bp.post("/requests.<fmt>")
@requires("open311:write")
def create_request(fmt: str) -> Response:
    """File a service request (the spec's form fields; api_key with open311:write)."""
    fmt = _format(fmt)
    values = request.values
    fields = [(k, v) for k in values if k not in NOT_FIELDS for v in values.getlist(k)]
    answer = open311_requests.submit(
        db.get_session(), fields, actor=current_principal(), lang=_lang()
    )
    return _answer(fmt, "service_requests", answer)


@bp.get("/requests.<fmt>")
@requires("incidents:read")
def list_requests(fmt: str) -> Response:
    """Service requests by id, service code, dates and status (at most 1000, newest first)."""
    fmt = _format(fmt)
    session = db.get_session()
    community_id = open311.jurisdiction(session, request.args.get("jurisdiction_id"))
    wanted = open311_requests.parse_filter(request.args.items(multi=True))
    found = open311_requests.find_requests(
        session, wanted, current_principal(), community_id=community_id, lang=_lang()
    )
    return _answer(fmt, "service_requests", found)


@bp.get("/requests/<request_id>.<fmt>")
@requires("incidents:read")
def get_request(request_id: str, fmt: str) -> Response:
    """One service request."""
    fmt = _format(fmt)
    session = db.get_session()
    community_id = open311.jurisdiction(session, request.args.get("jurisdiction_id"))
    found = open311_requests.find_request(
        session, request_id, current_principal(), community_id=community_id, lang=_lang()
    )
    return _answer(fmt, "service_requests", found)


@bp.get("/tokens/<token>.<fmt>")
@requires("open311:write")
def token(token: str, fmt: str) -> Response:
    """The service request id a token was given for."""
    fmt = _format(fmt)
    session = db.get_session()
    open311.jurisdiction(session, request.args.get("jurisdiction_id"))
    return _answer(fmt, "service_requests", open311_requests.find_token(session, token))


@bp.errorhandler(Exception)
def open311_error(exc: Exception) -> Response:
    """Every error of these endpoints as the spec's error list, in the format asked for.

    The request's unit of work ends here as the app's own handler would end
    it: rolled back (or, for a refused key, its audit entry committed).
    """
    db.end_with_error(exc)
    error = as_gridgis_error(exc)
    refused = _refusal()
    if (
        refused is not None
        and isinstance(exc, Forbidden | Unauthenticated)
        and not isinstance(exc, CsrfFailed)
    ):
        # The gate's refusal speaks of pages and logins; a client needs the scope.
        error = refused
    status, errors = open311.errors_of(error)
    return _answer(_asked_format(), "errors", errors, status)


@bp.after_request
def no_login_page(response: Response) -> Response:
    """A client without a key gets the spec's 403, not the login page a browser would.

    The permission gate sends anonymous requests that need a permission to
    the login page unless they ask for JSON; no Open311 view redirects, so a
    redirect here is that one.
    """
    refused = _refusal() if response.status_code == 302 else None
    if refused is None:
        return response
    status, errors = open311.errors_of(refused)
    return _answer(_asked_format(), "errors", errors, status)


def _refusal() -> GridgisError | None:
    """Why this request's principal may not use this endpoint (None: it may)."""
    permission = permission_of(current_app, request.endpoint or "") or PUBLIC
    principal = current_principal()
    if principal.can(permission):
        return None
    if principal.kind == "anonymous":
        return Forbidden(
            f"api_key is missing: send the api_key of a key with the scope {permission!r} "
            f"({PERMISSIONS[permission]}), made with `gridgis apikey add`."
        )
    try:
        principal.require(permission)
    except GridgisError as refused:
        return refused
    return None


def _format(fmt: str) -> str:
    if fmt not in MIMETYPES:
        raise NotFound(f"Unknown format {fmt!r}: end the resource's name with .xml or .json.")
    return fmt


def _asked_format() -> str:
    fmt = (request.view_args or {}).get("fmt")
    return fmt if fmt in MIMETYPES else "xml"


def _lang() -> str:
    return normalise(request.args.get("lang")) or db.state().settings.default_language


def _answer(fmt: str, root: str, data: Any, status: int = 200) -> Response:
    body = current_app.json.dumps(data) if fmt == "json" else to_xml(root, data)
    return current_app.response_class(body, status=status, content_type=MIMETYPES[fmt])


def to_xml(root: str, data: Any) -> str:
    """``data`` as the spec's XML: a list's items named by :data:`ITEMS`, empty for None.

    The declaration comes first with its encoding, as the spec asks.
    """
    element = ET.Element(root)
    _fill(element, data)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="unicode")


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list | tuple):
        for item in value:
            _fill(ET.SubElement(element, ITEMS[element.tag]), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = NOT_XML.sub("", str(value))
