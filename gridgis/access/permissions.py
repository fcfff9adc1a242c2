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

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.errors import GridgisError

#: No login needed: the login page, static assets, API discovery.
PUBLIC = "public"

#: Every permission, with what it allows.
PERMISSIONS = {
    PUBLIC: "anyone, logged in or not",
    "map:view": "open the map pages",
    "layers:read": "read communities, grids, compounds, buildings and units",
    "route:read": "route a point or an address to its team",
    "personal:read": "see names, phone numbers and care flags in full",
    "shapes:write": "import shapes and staff",
    "layout:publish": "publish a grid layout",
    "users:manage": "create, disable and change accounts and API keys",
    "audit:read": "read and export the audit log",
    "open311:write": "file service requests (Open311 clients)",
    "account:self": "change one's own password",
}

_EVERYONE = frozenset({"map:view", "layers:read", "account:self"})
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS) - {PUBLIC},
    "planner": _EVERYONE | {"route:read", "shapes:write", "layout:publish"},
    "dispatcher": _EVERYONE | {"route:read"},
    # Personal data of their own area only (see Scope).
    "grid_staff": _EVERYONE | {"route:read", "personal:read"},
    "viewer": _EVERYONE,
}
#: What an API key may be given.
API_SCOPES = ("route:read", "layers:read", "open311:write")


class Forbidden(GridgisError):
    """Logged in (or keyed), but not allowed to do this."""

    http_status = 403


class Unauthenticated(GridgisError):
    """Not logged in and no valid API key."""

    http_status = 401


@dataclass(frozen=True)
class Scope:
    """The places a grid staff member answers for (ids), and what lies inside them."""

    grid_ids: frozenset[int] = frozenset()
    building_ids: frozenset[int] = frozenset()
    unit_ids: frozenset[int] = frozenset()

    def allows(
        self,
        *,
        grid_id: int | None = None,
        building_id: int | None = None,
        unit_id: int | None = None,
    ) -> bool:
        """True when every place given lies in the scope."""
        return (
            (grid_id is None or grid_id in self.grid_ids)
            and (building_id is None or building_id in self.building_ids)
            and (unit_id is None or unit_id in self.unit_ids)
        )


@dataclass(frozen=True)
class Principal:
    """Who is asking: a logged-in person or an API key."""

    kind: str  # "user", "apikey" or "anonymous"
    name: str
    role: str | None = None
    permissions: frozenset[str] = frozenset()
    user_id: int | None = None
    staff_id: int | None = None
    #: None: unrestricted within the permissions; a Scope: grid staff's area.
    scope: Scope | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return f"{self.kind}:{self.name}"

    def can(self, permission: str) -> bool:
        return permission == PUBLIC or permission in self.permissions

    def require(self, permission: str) -> None:
        if self.can(permission):
            return
        if self.kind == "anonymous":
            raise Unauthenticated("Log in first (or send an API key) to use this.")
        raise Forbidden(
            f"Your {'role ' + repr(self.role) if self.role else 'key'} does not allow this "
            f"(it needs the permission {permission!r}: {PERMISSIONS.get(permission, '')})."
        )


ANONYMOUS = Principal(kind="anonymous", name="anonymous")


def scope_for_staff(session: Session, staff_id: int) -> Scope:
    """The grids, buildings and units a staff member answers for.

    A grid role (grid worker, part-time worker, volunteer) covers the grid and
    every building whose footprint lies in it (by point on surface) with their
    units; a building head covers the building and its units; a unit head the
    unit (and, to find it, its building).
    """
    rows = session.execute(
        sa.text(
            """
            WITH mine AS (SELECT role, grid_id, building_id, unit_id
                          FROM assignment WHERE staff_id = :staff),
            grids AS (SELECT grid_id AS id FROM mine WHERE grid_id IS NOT NULL),
            buildings AS (
                SELECT building_id AS id FROM mine WHERE building_id IS NOT NULL
                UNION
                SELECT u.building_id FROM mine JOIN unit u ON u.id = mine.unit_id
                UNION
                SELECT b.id FROM grids JOIN grid g ON g.id = grids.id
                JOIN building b ON ST_Covers(g.geom, ST_PointOnSurface(b.geom))
            ),
            units AS (
                SELECT unit_id AS id FROM mine WHERE unit_id IS NOT NULL
                UNION
                SELECT u.id FROM unit u
                WHERE u.building_id IN (
                    SELECT building_id FROM mine WHERE building_id IS NOT NULL
                    UNION
                    SELECT b.id FROM grids JOIN grid g ON g.id = grids.id
                    JOIN building b ON ST_Covers(g.geom, ST_PointOnSurface(b.geom)))
            )
            SELECT 'grid', id FROM grids
            UNION ALL SELECT 'building', id FROM buildings
            UNION ALL SELECT 'unit', id FROM units
            """
        ),
        {"staff": staff_id},
    ).all()
    by_kind: dict[str, set[int]] = {"grid": set(), "building": set(), "unit": set()}
    for kind, ident in rows:
        by_kind[kind].add(int(ident))
    return Scope(
        grid_ids=frozenset(by_kind["grid"]),
        building_ids=frozenset(by_kind["building"]),
        unit_ids=frozenset(by_kind["unit"]),
    )
