"""CSRF: cookie-authenticated writes carry a token bound to the session.

The token travels in the ``csrf_token`` form field or the ``X-CSRF-Token``
header; API-key requests need none (a browser never sends a key on its own).
"""

from __future__ import annotations

import hmac
import secrets

from flask import request, session

from gridgis.access.permissions import Forbidden
from gridgis.errors import N_

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FAILED = N_(
    "This form has expired or did not come from this site (CSRF check failed). "
    "Reload the page and try again."
)


class CsrfFailed(Forbidden):
    """A cookie-authenticated write without the session's CSRF token."""


def csrf_token() -> str:
    """The session's CSRF token (made on first use), for forms and page scripts."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def check_csrf() -> None:
    """Refuse a write that does not carry the session's CSRF token."""
    expected = session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sent = request.form.get(CSRF_FIELD)
    if (
        not isinstance(expected, str)
        or not expected
        or not sent
        or not hmac.compare_digest(expected.encode(), sent.encode())
    ):
        raise CsrfFailed(CSRF_FAILED)
