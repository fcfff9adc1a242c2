"""One error handler: JSON for the API (or a client that prefers JSON), else HTML.

Domain errors (:class:`gridgis.errors.GridgisError`) carry their status and a
message safe to show. HTTP errors (404, 405), a database that cannot be reached
(503) and anything unexpected (500, logged) become the same shape. A user never
sees a stack trace, SQL or a database URL.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

from gridgis import errors as domain_errors
from gridgis.errors import N_, DatabaseUnavailable, GridgisError, NotFound
from web import db
from web.i18n import gettext as _

logger = logging.getLogger(__name__)

#: The database message, also an id in the i18n catalog.
DATABASE_DOWN = N_(
    "Database unavailable: please try again in a minute. If it persists, "
    "ask the administrator to check that PostGIS is running."
)
TITLES = {
    400: N_("Bad request"),
    401: N_("Not logged in"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    413: N_("Request too large"),
    429: N_("Too many requests"),
    500: N_("Server error"),
    503: N_("Service unavailable"),
}


def wants_json() -> bool:
    """API paths, JSON documents and bodies, and clients whose Accept header ranks JSON first.

    A script that sends JSON (the phone page's queue) or asks for a ``.json``
    path reads the answer as JSON, errors included.
    """
    if request.path == "/api" or request.path.startswith("/api/"):
        return True
    if request.is_json or request.path.endswith(".json"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def as_gridgis_error(exc: Exception) -> GridgisError:
    """The domain error that describes ``exc``, in English message ids."""
    if isinstance(exc, GridgisError):
        return exc
    if isinstance(exc, sa.exc.OperationalError):
        # Not the exception text: it names the host and the database.
        logger.warning("database unavailable: %s", type(exc.orig or exc).__name__)
        return DatabaseUnavailable(DATABASE_DOWN)
    if isinstance(exc, HTTPException):
        if exc.code == 404:
            if wants_json():
                return NotFound(
                    f"There is no API endpoint at {request.path}; GET /api/v1 lists the endpoints."
                )
            return NotFound(N_("There is no page at this address."))
        if isinstance(exc, MethodNotAllowed):
            not_allowed = domain_errors.MethodNotAllowed(
                N_("This address does not accept that kind of request.")
            )
            if exc.valid_methods:
                not_allowed.details.append("Allowed: " + ", ".join(sorted(exc.valid_methods)))
            return not_allowed
        if exc.code == 413:
            limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
            size = f"{limit // 2**20} MB" if limit >= 2**20 else f"{limit // 1024} KB"
            too_large = GridgisError(
                f"The request is larger than {size}; split the file into smaller parts."
            )
            too_large.http_status = 413
            return too_large
        error = GridgisError(exc.description or exc.name)
        error.http_status = exc.code or 500
        return error
    logger.exception("unexpected error on %s %s", request.method, request.path)
    return GridgisError(
        N_("Something went wrong on our side; it has been logged. Please try again.")
    )


def render_error(exc: Exception) -> Response:
    db.end_with_error(exc)
    error = as_gridgis_error(exc)
    status = error.http_status
    if wants_json():
        # The API speaks English: clients match on these sentences and codes.
        body: dict[str, object] = {"status": status, "message": error.user_msg}
        if error.details:
            body["details"] = error.details
        response = jsonify({"error": body})
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="gridgis"'
    else:
        title = _(TITLES[status]) if status in TITLES else _("Error")
        html = render_template(
            "error.html",
            status=status,
            title=title,
            message=_(error.user_msg),
            details=error.details,
        )
        response = current_app.response_class(html, mimetype="text/html")
    response.status_code = status
    retry_after = getattr(error, "retry_after", None) or getattr(exc, "retry_after", None)
    if retry_after:  # AccountLocked says how long to wait
        response.headers["Retry-After"] = str(int(retry_after))
    return response


def init_app(app: Flask) -> None:
    for kind in (GridgisError, HTTPException, sa.exc.OperationalError, Exception):
        app.register_error_handler(kind, render_error)
