"""The gate: every endpoint declares its permission; anything else is refused.

Every endpoint declares the one permission it needs with :func:`requires`;
:func:`check_access` (a ``before_request`` hook) refuses any endpoint that
declares none (default deny) and any principal without the permission.
``tests/web/test_permissions.py`` walks the URL map to keep it so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, request, url_for
from werkzeug.wrappers import Response

from gridgis.access.permissions import PERMISSIONS, PUBLIC, Forbidden
from gridgis.errors import N_
from web.errors import wants_json
from web.security.csrf import check_csrf
from web.security.principals import principal_from_request

logger = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., Any])

#: The attribute :func:`requires` sets on a view function.
PERMISSION_ATTR = "gridgis_permission"
#: Endpoints that are not our view functions (Flask's own static files).
PUBLIC_ENDPOINTS = frozenset({"static"})
#: Endpoints that answer without touching the session or the database.
STATIC_PREFIXES = ("static", "assets.")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
FORBIDDEN_PAGE = N_("Your account does not allow this page. Ask an administrator if you need it.")


def requires(permission: str) -> Callable[[View], View]:
    """Declare the permission a view needs (``PUBLIC`` for anyone).

    The decorator only records it; :func:`check_access` enforces it before
    the view runs, so a view without the decorator is refused, not open.
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"Unknown permission {permission!r}; see gridgis.access.permissions.")

    def mark(view: View) -> View:
        setattr(view, PERMISSION_ATTR, permission)
        return view

    return mark


def permission_of(app: Flask, endpoint: str) -> str | None:
    """The permission ``endpoint`` declared, or None when it declared none."""
    if endpoint in PUBLIC_ENDPOINTS:
        return PUBLIC
    view = app.view_functions.get(endpoint)
    return getattr(view, PERMISSION_ATTR, None)


def is_static(endpoint: str | None) -> bool:
    return endpoint is not None and endpoint.startswith(STATIC_PREFIXES)


def check_access() -> Response | None:
    """Find the principal, then refuse what it may not do (default deny)."""
    endpoint = request.endpoint
    if request.routing_exception is not None or endpoint is None:
        return None  # 404 and 405 answer as they are
    if is_static(endpoint) and permission_of(current_app, endpoint) == PUBLIC:
        return None  # no session, no database for static files
    principal = g.principal = principal_from_request()

    permission = permission_of(current_app, endpoint)
    if permission is None:
        logger.error("endpoint %s declares no permission: refused (default deny)", endpoint)
        raise Forbidden(N_("This address is not open to anyone (it declares no permission)."))
    if not principal.can(permission):
        if principal.kind == "anonymous" and not wants_json():
            return redirect(url_for("access.login", next=_here()))
        if principal.kind != "anonymous" and not wants_json():
            raise Forbidden(FORBIDDEN_PAGE, details=[f"{permission}: {PERMISSIONS[permission]}"])
        principal.require(permission)  # raises Unauthenticated (401) or Forbidden (403)
    if request.method not in SAFE_METHODS and principal.kind != "apikey":
        check_csrf()
    return None


def _here() -> str:
    query = request.query_string.decode("utf-8", "replace")
    return request.path + (f"?{query}" if query else "")


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, else ``default`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return default
    return target
