"""Actors for tests that write: who the audit log will name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Named:
    """Anything the audit log can name (a :class:`gridgis.audit.Actor`)."""

    audit_name: str


def named(audit_name: str) -> Named:
    """The actor the audit log names ``audit_name`` (``user:alice``, ``cli:tests``)."""
    return Named(audit_name)


#: Who the tests' own writes are by.
TESTS = named("cli:tests")
