"""Who may do what: roles, API-key scopes, permissions, and grid staff's scope.

Every page and API endpoint declares the one permission it needs (``web``
refuses any endpoint that declares none: default deny). A person's role
grants a fixed set of permissions; an API key grants exactly its scopes.
Grid staff (``grid_staff``) hold their permissions only inside their
:class:`Scope`: the grids, buildings and units their staff record is assigned
to, and what lies inside those grids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gridgis.access.scope import Scope
from gridgis.errors import N_, GridgisError

#: No login needed: the login page, static assets, API discovery.
PUBLIC = "public"

#: Every permission, with what it allows.
PERMISSIONS = {
    PUBLIC: "anyone, logged in or not",
    "map:view": "open the map pages",
    "layers:read": "read communities, grids, compounds, buildings and units",
    "route:read": "route a point or an address to its team",
    "contacts:read": "see the names and phones of grid teams in full",
    "personal:read": "see residents' names, phone numbers and care flags in full",
    "shapes:write": "import shapes and staff",
    "layout:draft": "see draft grid layouts (plans not yet in force)",
    "layout:publish": "publish a grid layout",
    "users:manage": "create, disable and change accounts and API keys",
    "audit:read": "read and export the audit log",
    "open311:write": "file service requests (Open311 clients)",
    "incidents:read": "see incidents (grid staff: those of their own area)",
    "incidents:report": "take in incidents (the console, hotline imports, machine clients)",
    "incidents:dispatch": "register, reject, merge, dispatch, park, check, close and reopen",
    "incidents:work": "accept incidents of one's own grid team, work on them, report them done",
    "households:read": "see households and their visits (grid staff: those of their own area)",
    "visits:write": "log visits to households (grid staff: those of their own area)",
    "rounds:write": "log rounds (四进) and their findings (grid staff: in their own area)",
    "reports:read": "read the monthly work report (grid staff: their own grid's)",
    "account:self": "change one's own password",
}

_EVERYONE = frozenset({"map:view", "layers:read", "account:self"})
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS) - {PUBLIC},
    "planner": _EVERYONE
    | {"route:read", "shapes:write", "layout:draft", "layout:publish", "incidents:read"},
    # Dispatchers call the routed team: its contacts in full.
    # Households too, masked (DESIGN.md: residents' data in full only for the handler).
    "dispatcher": _EVERYONE
    | {
        "route:read",
        "contacts:read",
        "incidents:read",
        "incidents:report",
        "incidents:dispatch",
        "households:read",
        "reports:read",
    },
    # Their own grid team's contacts and their own area's residents and incidents only.
    "grid_staff": _EVERYONE
    | {
        "route:read",
        "contacts:read",
        "personal:read",
        "incidents:read",
        "incidents:report",
        "incidents:work",
        "households:read",
        "visits:write",
        "rounds:write",
        "reports:read",
    },
    "viewer": _EVERYONE,
}
#: What an API key may be given.
API_SCOPES = ("route:read", "layers:read", "open311:write", "incidents:read", "incidents:report")


class Forbidden(GridgisError):
    """Logged in (or keyed), but not allowed to do this."""

    http_status = 403


class Unauthenticated(GridgisError):
    """Not logged in and no valid API key."""

    http_status = 401


@dataclass(frozen=True)
class Principal:
    """Who is asking: a logged-in person or an API key."""

    kind: str  # "user", "apikey", "cli" or "anonymous"
    name: str
    role: str | None = None
    permissions: frozenset[str] = frozenset()
    user_id: int | None = None
    staff_id: int | None = None
    #: None: unrestricted within the permissions; a Scope: grid staff's area.
    scope: Scope | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def audit_name(self) -> str:
        """How the audit log names this principal: ``user:alice``, ``cli:root`` ..."""
        return f"{self.kind}:{self.name}"

    def can(self, permission: str) -> bool:
        return permission == PUBLIC or permission in self.permissions

    def require(self, permission: str) -> None:
        if self.can(permission):
            return
        if self.kind == "anonymous":
            raise Unauthenticated(N_("Log in first (or send an API key) to use this."))
        raise Forbidden(
            f"Your {'role ' + repr(self.role) if self.role else 'key'} does not allow this "
            f"(it needs the permission {permission!r}: {PERMISSIONS.get(permission, '')})."
        )


ANONYMOUS = Principal(kind="anonymous", name="anonymous")


def cli_principal(user: str) -> Principal:
    """Whoever runs the command line: an administrator, named by the system user.

    The command line is for the people who run the server; they can read the
    database directly anyway, so it holds every permission.
    """
    return Principal(kind="cli", name=user, role="admin", permissions=ROLE_PERMISSIONS["admin"])
