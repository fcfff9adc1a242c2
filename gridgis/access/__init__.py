"""Access: who is asking, what they may do, and what personal data they may see.

Owns accounts of people (:mod:`~gridgis.access.accounts`), logging in and out
with its throttle (:mod:`~gridgis.access.logins`), server-side login sessions
(:mod:`~gridgis.access.sessions`), password hashing and policy
(:mod:`~gridgis.access.passwords`), machine clients' API keys
(:mod:`~gridgis.access.apikeys`), roles and permissions and the acting
:class:`~gridgis.access.permissions.Principal` (:mod:`~gridgis.access.permissions`),
grid staff's area (:mod:`~gridgis.access.scope`), and the one rule on who sees
a person's name and phone (:mod:`~gridgis.access.privacy`).

Public surface: the names below. Every domain write elsewhere takes a
``Principal`` as its ``actor``.
"""

from gridgis.access.permissions import (
    ANONYMOUS,
    API_SCOPES,
    PERMISSIONS,
    PUBLIC,
    ROLE_PERMISSIONS,
    Forbidden,
    Principal,
    Unauthenticated,
    cli_principal,
)
from gridgis.access.privacy import Post, mask_name, mask_phone, sees_staff_contact, staff_contact
from gridgis.access.scope import Scope, scope_for_staff

__all__ = [
    "ANONYMOUS",
    "API_SCOPES",
    "PERMISSIONS",
    "PUBLIC",
    "ROLE_PERMISSIONS",
    "Forbidden",
    "Post",
    "Principal",
    "Scope",
    "Unauthenticated",
    "cli_principal",
    "mask_name",
    "mask_phone",
    "scope_for_staff",
    "sees_staff_contact",
    "staff_contact",
]
