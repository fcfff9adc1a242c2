"""The data model: typed SQLAlchemy 2 models on PostGIS, and the role vocabulary.

Owns the tables and nothing else: places (community, layout, grid, compound,
building, unit), people (staff and their assignments), the catalogue
(departments, categories), incidents (their reporters, events, escalations,
photos, and the outbox of notifications), residents and field work (households
with care flags, visits, rounds), accounts (users, their sessions and login
throttles, API keys, the audit log), the undo/redo history of drafts' edits
and the vocabulary of roles and teams.
Alembic migrations are the schema's only source;
``tests/gridgis/models/test_migrations.py`` checks the two agree.

Everything else in gridgis imports models from here (``from gridgis.models
import Grid``), never from the modules inside.
"""

from gridgis.models.accounts import ApiKey, AuditEntry, LoginThrottle, User, UserSession
from gridgis.models.base import SRID, Base
from gridgis.models.catalogue import DEADLINE_BASES, Category, Department, category_department
from gridgis.models.households import (
    CARE_FLAG_TERMS,
    CARE_FLAGS,
    ROUND_KIND_TERMS,
    ROUND_KINDS,
    Household,
    Round,
    RoundIncident,
    RoundParticipant,
    Visit,
)
from gridgis.models.incidents import (
    ASSIGNED_STATUSES,
    CHANNEL_TERMS,
    CHANNELS,
    INCIDENT_STATUS_TERMS,
    INCIDENT_STATUSES,
    OPEN_STATUSES,
    SATISFACTION,
    Incident,
    IncidentEscalation,
    IncidentEvent,
    IncidentPhoto,
    IncidentReporter,
    OutboxMessage,
)
from gridgis.models.people import Assignment, Staff
from gridgis.models.places import Building, Community, Compound, Grid, Layout, RoutingEpoch, Unit
from gridgis.models.planning import LayoutEdit
from gridgis.models.roles import (
    DEPARTMENT_KINDS,
    GRID_ROLES,
    LAYOUT_STATUSES,
    STAFF_ROLES,
    USER_ROLES,
    VOLUNTEER_TEAMS,
)

__all__ = [
    "ASSIGNED_STATUSES",
    "CARE_FLAGS",
    "CARE_FLAG_TERMS",
    "CHANNELS",
    "CHANNEL_TERMS",
    "DEADLINE_BASES",
    "DEPARTMENT_KINDS",
    "GRID_ROLES",
    "INCIDENT_STATUSES",
    "INCIDENT_STATUS_TERMS",
    "LAYOUT_STATUSES",
    "OPEN_STATUSES",
    "ROUND_KINDS",
    "ROUND_KIND_TERMS",
    "SATISFACTION",
    "SRID",
    "STAFF_ROLES",
    "USER_ROLES",
    "VOLUNTEER_TEAMS",
    "ApiKey",
    "Assignment",
    "AuditEntry",
    "Base",
    "Building",
    "Category",
    "Community",
    "Compound",
    "Department",
    "Grid",
    "Household",
    "Incident",
    "IncidentEscalation",
    "IncidentEvent",
    "IncidentPhoto",
    "IncidentReporter",
    "Layout",
    "LayoutEdit",
    "LoginThrottle",
    "OutboxMessage",
    "Round",
    "RoundIncident",
    "RoundParticipant",
    "RoutingEpoch",
    "Staff",
    "Unit",
    "User",
    "UserSession",
    "Visit",
    "category_department",
]
