"""The machinery every layer import shares: the report, problems, inserts.

A :class:`Loader` collects every problem a file has before anything is
written, so a planner sees the whole list at once; inserts go in batches of
``CHUNK`` rows through executemany with the geometry as hex EWKB, which
PostGIS reads bit for bit (WKT would round coordinates and could turn a
valid polygon invalid).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.audit import Actor
from gridgis.errors import (
    Conflict,
    DatabaseUnavailable,
    GridgisError,
    InvalidFile,
    InvalidGeometry,
    capped,
)
from gridgis.models import SRID, Community
from gridgis.shapes import fields as _fields

Progress = Callable[[int, int], None]
#: Rows per INSERT batch, and how often progress is reported.
CHUNK = 1000
#: Warning and repair lines shown in a summary; the rest are counted.
MAX_SUMMARY_LINES = 20


@dataclass
class ImportReport:
    """What an import did, for the person who ran it.

    Attributes:
        layer: The layer imported (``grids``, ``buildings``, ...).
        count: Features (or staff rows) stored.
        community: The community's code.
        created_community: True when the import created the community.
        boundary_from: How a created community's boundary was made.
        layout: The layout the grids went into (grids only).
        published: True when that layout was published by this import.
        assignments: Staff roles stored (staff only; ``count`` is the people).
        warnings: Things stored but worth a look (e.g. a building outside
            the community boundary).
        fixes: Geometries repaired with ``--fix``, one line each.
    """

    layer: str
    count: int = 0
    community: str = ""
    created_community: bool = False
    boundary_from: str = ""
    layout: str | None = None
    published: bool = False
    assignments: int = 0
    warnings: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A few lines saying what was imported, then fixes and warnings."""
        if self.layer == "community":
            lines = [f"Imported the boundary of community {self.community}."]
        elif self.layer == "staff":
            lines = [
                f"Imported {self.count} staff with {self.assignments} assignment(s) "
                + f"into community {self.community}."
            ]
        else:
            lines = [f"Imported {self.count} {self.layer} into community {self.community}."]
        if self.created_community:
            lines.append(
                f"Created community {self.community}; its boundary is {self.boundary_from}."
            )
        if self.layout is not None and self.layer == "staff":
            lines.append(f"Grid codes were looked up in layout {self.layout!r}.")
        elif self.layout is not None:
            state = (
                "published, in force from now" if self.published else "a draft, not yet in force"
            )
            lines.append(f"Layout {self.layout!r}: {state}.")
        for title, items in (("Repaired", self.fixes), ("Warnings", self.warnings)):
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines.extend(f"  - {item}" for item in items[:MAX_SUMMARY_LINES])
                if len(items) > MAX_SUMMARY_LINES:
                    lines.append(f"  ... and {len(items) - MAX_SUMMARY_LINES} more")
        return "\n".join(lines)


def hex_ewkb(geoms: Sequence[shapely.Geometry]) -> list[str]:
    """Geometries as hex EWKB with SRID 4326, for ST_GeomFromEWKT."""
    array = shapely.set_srid(np.asarray(geoms, dtype=object), SRID)
    return list(shapely.to_wkb(array, hex=True, include_srid=True))


def plain_wkb(geoms: Sequence[shapely.Geometry]) -> list[bytes]:
    return list(shapely.to_wkb(np.asarray(geoms, dtype=object)))


class Loader:
    """One import in progress: its session, file, community and problems."""

    def __init__(
        self,
        session: Session,
        layer: str,
        label: str,
        community_code: str,
        progress: Progress | None,
        actor: Actor,
    ) -> None:
        self.session = session
        self.actor = actor
        self.label = label
        self.progress = progress
        self.problems: list[str] = []
        self.report = ImportReport(layer=layer, community=community_code)
        self.community: Community | None = session.scalar(
            sa.select(Community).where(Community.code == community_code)
        )

    @property
    def community_id(self) -> int | None:
        return self.community.id if self.community is not None else None

    def warn(self, message: str) -> None:
        self.report.warnings.append(message)

    def check(self, problems: Sequence[str]) -> None:
        self.problems.extend(problems)

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def raise_problems(self) -> None:
        """Refuse the import if any problem was found, listing them all."""
        if not self.problems:
            return
        raise InvalidFile(
            f"{self.label}: {len(self.problems)} problem(s) found, so no {self.report.layer} "
            "were imported; correct the file and import it again.",
            details=capped(self.problems),
        )

    def codes(
        self,
        records: list[dict[str, Any]],
        present: set[str],
        labels: Sequence[str],
        *,
        key: str = "code",
        what: str = "code",
    ) -> None:
        """Number features without a code column; flag empty and repeated codes."""
        if key not in present:
            for i, record in enumerate(records, start=1):
                record[key] = str(i)
            self.warn(_fields.generated_code_warning(self.label, what, len(records)))
            return
        for where, record in zip(labels, records):
            if record[key] is None:
                self.problems.append(f"{where}: no {what}")

    def repeated(self, pairs: Sequence[tuple[str, Any]], what: str) -> None:
        for value, where in _fields.duplicates(pairs).items():
            shown = value if isinstance(value, str) else " / ".join(map(str, value))
            self.problems.append(f"{what} {shown!r} appears {len(where)} times: {', '.join(where)}")

    def ensure_community(
        self, boundary: shapely.Geometry, boundary_from: str, name: str | None = None
    ) -> Community:
        """The community, created with ``boundary`` if it does not exist yet."""
        if self.community is not None:
            return self.community
        code = self.report.community
        community = Community(code=code, name=name or code, boundary=hex_ewkb([boundary])[0])
        self.session.add(community)
        self.session.flush()
        self.community = community
        self.report.created_community = True
        self.report.boundary_from = boundary_from
        return community

    def insert(self, model: type, rows: list[dict[str, Any]]) -> None:
        """Bulk-insert ``rows`` (executemany), reporting progress per batch."""
        total = len(rows)
        for start in range(0, total, CHUNK):
            self.session.execute(sa.insert(model), rows[start : start + CHUNK])
            if self.progress is not None:
                self.progress(min(start + CHUNK, total), total)
        self.report.count += total


def default_layout_name() -> str:
    return f"import {clock.show(clock.now(), '%Y-%m-%d %H:%M:%S')}"


def database_error(exc: DBAPIError, label: str, layer: str) -> GridgisError:
    """A database refusal in words a planner can act on (no SQL, no stack)."""
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or "a database rule"
    message = getattr(diag, "message_primary", None) or str(orig).strip().splitlines()[0]
    detail = getattr(diag, "message_detail", None)
    details = [detail] if detail else []
    state = getattr(orig, "sqlstate", None) or ""
    nothing = "nothing was imported"
    if isinstance(exc, OperationalError) and not state.startswith("2"):
        return DatabaseUnavailable(f"The database stopped answering during the import; {nothing}.")
    if state == "23505":
        return Conflict(
            f"{label}: some {layer} are already in the database ({constraint}); {nothing}. "
            "Use new codes, or import into another community or layout.",
            details=details,
        )
    if state == "23514" and constraint == "unit_inside_building":
        return InvalidGeometry(f"{label}: {message}; {nothing}.", details=details)
    if state == "23514" and constraint.endswith("_valid"):
        return InvalidGeometry(
            f"{label}: PostGIS finds a geometry invalid ({constraint}); {nothing}. "
            "Import again with --fix to repair it.",
            details=details,
        )
    if state == "23P01":
        return Conflict(f"{label}: {message}; {nothing}.", details=details)
    if state.startswith(("22", "23")):
        return InvalidFile(
            f"{label}: a value breaks the database rule {constraint} ({message}); {nothing}.",
            details=details,
        )
    return GridgisError(f"{label}: the database refused the import ({message}); {nothing}.")
