"""A layout out to QGIS: its grids, which grid each building is in, and its edit log.

One GeoPackage per layout, with three layers a GDAL reader (QGIS, ogr2ogr,
geopandas) opens as they are:

- ``grids``: code, name and polygon (EPSG:4326), the fields the grids
  importer reads, so the file's grids can come back as a draft
  (``gridgis import grids OUT.gpkg`` finds this layer by its name);
- ``building_grid``: every building of the community with the code of its
  grid in this layout (empty where it is in none), by
  :mod:`gridgis.geo.areas`'s rule, and its footprint;
- ``edit_log``: the audit entries of the layout (a table without geometry):
  when, who, the action, and what (the fields after, as JSON text).

The edit log is the entries about the layout itself (drafted, published:
``layout`` ``COMMUNITY/NAME``) and the grids imports that made it (``grids``
of the community, naming the layout), oldest first. Nothing here is personal
data of residents or staff contacts: codes, names of places, and the
accounts that acted, as the audit log names them. So, like a grids export,
the export itself is not audited.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from gridgis import clock
from gridgis.errors import InvalidFile, InvalidInput
from gridgis.geo.areas import building_in_grid
from gridgis.models import AuditEntry, Building, Community, Grid, Layout
from gridgis.shapes.reading import WGS84

log = logging.getLogger(__name__)

#: The layers of the file, in the order they are written.
LAYERS = ("grids", "building_grid", "edit_log")


@dataclass(frozen=True)
class Export:
    """What :func:`export_layout` wrote: the file and the rows of each layer."""

    path: Path
    grids: int
    buildings: int
    entries: int


def export_layout(session: Session, layout: Layout, out_path: str | Path) -> Export:
    """Write ``layout`` to the GeoPackage ``out_path`` (replaced if it exists).

    Raises:
        InvalidInput: ``out_path`` does not end in ``.gpkg``.
        InvalidFile: Its folder does not exist.
    """
    out = Path(out_path)
    if out.suffix.lower() != ".gpkg":
        raise InvalidInput(
            f"{out}: a layout exports to a GeoPackage; give a file name ending in .gpkg "
            f"(not {out.suffix or '(no extension)'!r})."
        )
    if not out.parent.is_dir():
        raise InvalidFile(f"{out}: the folder {out.parent} does not exist.")
    community = session.get_one(Community, layout.community_id)
    grids = _grids(session, layout)
    buildings = _buildings(session, layout)
    entries = _edit_log(session, community, layout)
    out.unlink(missing_ok=True)
    pyogrio.write_dataframe(grids, str(out), driver="GPKG", layer="grids")
    pyogrio.write_dataframe(buildings, str(out), driver="GPKG", layer="building_grid", append=True)
    # A table without geometry: GeoPackage's "attributes" data type.
    pyogrio.write_dataframe(entries, str(out), driver="GPKG", layer="edit_log", append=True)
    log.info("exported layout %s of %s to %s", layout.name, community.code, out)
    return Export(out, len(grids), len(buildings), len(entries))


def _frame(rows: list[sa.Row], columns: list[str]) -> gpd.GeoDataFrame:
    """Rows of ``columns`` then a WKB geometry, as a GeoDataFrame in EPSG:4326."""
    data = pd.DataFrame([tuple(r)[:-1] for r in rows], columns=columns, dtype=object)
    for name in columns:
        data[name] = data[name].astype("string")
    geoms = shapely.from_wkb([bytes(r[-1]) for r in rows])
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=WGS84)


def _grids(session: Session, layout: Layout) -> gpd.GeoDataFrame:
    rows = session.execute(
        sa.select(Grid.code, Grid.name, sa.func.ST_AsBinary(Grid.geom))
        .where(Grid.layout_id == layout.id)
        .order_by(Grid.code)
    ).all()
    return _frame(list(rows), ["code", "name"])


def _buildings(session: Session, layout: Layout) -> gpd.GeoDataFrame:
    grid = aliased(Grid, name="layout_grid")
    rows = session.execute(
        sa.select(Building.code, Building.name, grid.code, sa.func.ST_AsBinary(Building.geom))
        .select_from(Building)
        .outerjoin(grid, sa.and_(grid.layout_id == layout.id, building_in_grid(Building, grid)))
        .where(Building.community_id == layout.community_id)
        .order_by(Building.code)
    ).all()
    return _frame(list(rows), ["building", "building_name", "grid"])


def edit_log(session: Session, community: Community, layout: Layout) -> list[AuditEntry]:
    """The audit entries of ``layout``, oldest first (see the module's docstring)."""
    about_layout = sa.and_(
        AuditEntry.entity == "layout", AuditEntry.entity_id == f"{community.code}/{layout.name}"
    )
    imported_into = sa.and_(
        AuditEntry.entity == "grids",
        AuditEntry.entity_id == community.code,
        AuditEntry.after["layout"].astext == layout.name,
    )
    return list(
        session.scalars(
            sa.select(AuditEntry)
            .where(sa.or_(about_layout, imported_into))
            .order_by(AuditEntry.at, AuditEntry.id)
        )
    )


def _edit_log(session: Session, community: Community, layout: Layout) -> pd.DataFrame:
    rows = [
        {
            "at": clock.local(entry.at).isoformat(timespec="seconds"),
            "actor": entry.actor,
            "action": entry.action,
            "entity": entry.entity,
            "entity_id": entry.entity_id,
            "after": None
            if entry.after is None
            else json.dumps(entry.after, ensure_ascii=False, sort_keys=True),
            "note": entry.note,
        }
        for entry in edit_log(session, community, layout)
    ]
    columns = ["at", "actor", "action", "entity", "entity_id", "after", "note"]
    return pd.DataFrame(rows, columns=columns, dtype=object).astype("string")
