"""Importing a layer (community, grids, compounds, buildings, units, staff, households).

An import is all or nothing. The file is read and checked in full first
(:mod:`gridgis.shapes.reading`), then every reference and every placement is checked
against the database, and only a file without problems is inserted, in bulk.
The work runs inside a savepoint: whatever fails, the caller's session is
left as it was and can still be used. The function flushes and audits
itself but never commits: the caller's unit of work does.

Grids always go into a new draft layout (网格方案), which is published only
when asked (MapIt's generations work the same way). A community that does
not exist yet is created from the file, and the report says so.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gridgis import audit
from gridgis.audit import Actor
from gridgis.errors import InvalidInput
from gridgis.shapes.fields import LAYERS
from gridgis.shapes.households import HouseholdReport, load_households
from gridgis.shapes.loader import ImportReport, Loader, Progress, database_error
from gridgis.shapes.places import load
from gridgis.shapes.reading import read_shapes
from gridgis.shapes.staff import load_staff

__all__ = ["IMPORT_LAYERS", "LAYERS", "ImportReport", "import_layer"]

#: The layers gridgis imports: those it also exports, and households (personal
#: data: imported, never exported).
IMPORT_LAYERS = (*LAYERS, "households")
#: Layers read from a table (CSV/XLSX) by their own loader, not as shapes.
_TABLE_LAYERS = ("staff", "households")

log = logging.getLogger(__name__)


def import_layer(
    session: Session,
    layer: str,
    path: str | Path,
    *,
    community_code: str,
    code_field: str | None = None,
    name_field: str | None = None,
    crs: str | None = None,
    fix: bool = False,
    layout_name: str | None = None,
    publish: bool = False,
    file_layer: str | None = None,
    progress: Progress | None = None,
    actor: Actor,
) -> ImportReport:
    """Import the features of a file as one layer of a community.

    Args:
        session: Where to write; flushed, never committed.
        layer: One of ``IMPORT_LAYERS``.
        path: The file (GeoJSON, Shapefile or .zip, GeoPackage, CSV; staff and
            households: CSV or XLSX).
        community_code: The community; created from the file when it does
            not exist (except for units and staff, which need it to exist).
        code_field: The field holding codes (default: code/id/编码/编号; for
            units, the unit number field).
        name_field: The field holding names (default: name/名称).
        crs: The CRS of the coordinates, overriding what the file declares
            (households: of their points; ``gcj02``/``bd09`` too).
        fix: Repair invalid geometries instead of refusing them.
        layout_name: Grids: name of the new layout (default "import <time>").
            Staff: the layout whose grid codes the file uses (default: the
            one in force, else the newest draft).
        publish: Grids: publish the new layout now.
        file_layer: The layer of a GeoPackage to read (default: its only layer,
            or the one named like ``layer``, e.g. ``grids`` in the file
            ``gridgis layout export`` writes).
        progress: Called as ``progress(done, total)`` every 1000 features.
        actor: Who imports (audited as ``import`` of the layer, in the same
            transaction; publishing is audited too).

    Returns:
        What was stored, with warnings and repairs.

    Raises:
        GridgisError: Any problem with the file, its references or the
            database, with a message naming what to fix. Nothing is stored.
    """
    if layer not in IMPORT_LAYERS:
        raise InvalidInput(f"Unknown layer {layer!r}; choose one of {', '.join(IMPORT_LAYERS)}.")
    if layer != "grids" and publish:
        raise InvalidInput("--publish applies to grids only.")
    if layer in _TABLE_LAYERS and file_layer is not None:
        raise InvalidInput(f"--file-layer applies to shape files; {layer} are read from a table.")
    path = Path(path)
    label = str(path)
    # Reading and geometry checks need no database; do them before any SQL.
    shapes = (
        None
        if layer in _TABLE_LAYERS
        else read_shapes(path, crs=crs, fix=fix, layer=layer, file_layer=file_layer)
    )
    try:
        with session.begin_nested():
            loader = Loader(session, layer, label, community_code, progress, actor)
            if layer == "households":
                load_households(loader, path, code_field=code_field, crs=crs)
            elif shapes is None:
                load_staff(
                    loader,
                    path,
                    code_field=code_field,
                    name_field=name_field,
                    layout_name=layout_name,
                )
            else:
                loader.report.warnings[:0] = shapes.warnings
                loader.report.fixes.extend(shapes.fixes)
                load(
                    loader,
                    shapes,
                    code_field=code_field,
                    name_field=name_field,
                    layout_name=layout_name,
                    publish=publish,
                )
            session.flush()
            after = {
                "file": label,
                "count": loader.report.count,
                "layout": loader.report.layout,
                "published": loader.report.published,
                "fixed": len(loader.report.fixes),
            }
            if isinstance(loader.report, HouseholdReport):
                # Counts only: the rows are personal data.
                after.update(added=loader.report.added, updated=loader.report.updated)
            audit.record(session, actor, "import", layer, community_code, after=after)
    except DBAPIError as exc:
        # Only the SQLSTATE: the database's own text may quote personal data.
        log.warning(
            "import of %s refused by the database (SQLSTATE %s)",
            label,
            getattr(exc.orig, "sqlstate", "?"),
        )
        raise database_error(exc, label, layer) from None
    log.info("imported %d %s from %s into %s", loader.report.count, layer, label, community_code)
    return loader.report
