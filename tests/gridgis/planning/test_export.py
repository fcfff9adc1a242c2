"""A layout exported to a GeoPackage, read back with a GDAL reader (pyogrio, geopandas)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from sqlalchemy.orm import Session

from gridgis import audit, clock
from gridgis.errors import InvalidFile, InvalidInput
from gridgis.planning.checks import check_layout
from gridgis.planning.diff import diff_layouts
from gridgis.planning.drafts import draft_layout, find_layout
from gridgis.planning.export import LAYERS, export_layout
from gridgis.shapes.importing import import_layer
from tests.gridgis.planning.worlds import NOW
from tests.support import factories as make
from tests.support.actors import TESTS
from tests.support.factories import box
from tests.support.sample_community import (
    COMMUNITY_CODE,
    GRID_CODES,
    GRID_NAMES,
    Sample,
    build_sample_community,
)

G1, G2, G3 = GRID_CODES


@pytest.fixture
def sample(db_session: Session) -> Sample:
    return build_sample_community(db_session)


def test_grids_buildings_and_the_edit_log(
    db_session: Session, sample: Sample, tmp_path: Path
) -> None:
    with clock.frozen(NOW):
        draft = draft_layout(db_session, sample.community, name="2027 redraw", actor=TESTS).layout
    # Entries about other layouts and other things stay out of its edit log.
    audit.record(db_session, TESTS, "draft", "layout", f"{COMMUNITY_CODE}/other")
    audit.record(
        db_session, TESTS, "import", "grids", COMMUNITY_CODE, after={"layout": "2027 redraw"}
    )
    audit.record(
        db_session, TESTS, "import", "buildings", COMMUNITY_CODE, after={"layout": "2027 redraw"}
    )
    out = tmp_path / "redraw.gpkg"
    written = export_layout(db_session, draft, out)
    assert (written.path, written.grids, written.buildings, written.entries) == (out, 3, 5, 2)

    assert [name for name, _ in pyogrio.list_layers(out)] == list(LAYERS)
    grids = gpd.read_file(out, layer="grids")
    assert grids.crs.to_epsg() == 4326
    assert list(grids.columns) == ["code", "name", "geometry"]
    assert list(zip(grids.code, grids.name)) == list(zip(GRID_CODES, GRID_NAMES))
    assert grids.geometry[0].equals(box(114.300, 30.590, 114.302, 30.594))

    buildings = gpd.read_file(out, layer="building_grid")
    assert list(buildings.columns) == ["building", "building_name", "grid", "geometry"]
    assert list(zip(buildings.building, buildings.grid)) == [
        ("B01", G1),
        ("B02", G1),
        ("B03", G2),
        ("B04", G3),
        ("B05", G3),
    ]
    assert buildings.geometry[0].equals(shapely.box(114.3008, 30.5910, 114.3012, 30.5912))

    log = pyogrio.read_dataframe(out, layer="edit_log")
    assert list(log.columns) == ["at", "actor", "action", "entity", "entity_id", "after", "note"]
    assert list(zip(log.action, log.entity, log.entity_id)) == [
        ("draft", "layout", f"{COMMUNITY_CODE}/2027 redraw"),
        ("import", "grids", COMMUNITY_CODE),
    ]
    assert log.actor[0] == TESTS.audit_name
    assert json.loads(log["after"][0])["from"] == "2025版"


def test_a_building_in_no_grid_has_an_empty_grid(
    db_session: Session, sample: Sample, tmp_path: Path
) -> None:
    # Only the west column: B03, B04 and B05 are in no grid; no audit entries.
    layout = make.layout(
        db_session, sample.community, "west", grids={G1: box(114.300, 30.590, 114.302, 30.594)}
    )
    written = export_layout(db_session, layout, tmp_path / "west.GPKG")
    assert (written.grids, written.buildings, written.entries) == (1, 5, 0)
    buildings = gpd.read_file(written.path, layer="building_grid")
    assert [g if isinstance(g, str) else None for g in buildings.grid] == [
        G1,
        G1,
        None,
        None,
        None,
    ]
    assert len(pyogrio.read_dataframe(written.path, layer="edit_log")) == 0


def test_an_existing_file_is_replaced(db_session: Session, sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "layout.gpkg"
    out.write_bytes(b"not a geopackage")
    export_layout(db_session, sample.layout, out)
    assert len(gpd.read_file(out, layer="grids")) == 3


@pytest.mark.parametrize("name", ["layout.shp", "layout.geojson", "layout"])
def test_only_a_geopackage(db_session: Session, sample: Sample, tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput, match=r"exports to a GeoPackage; give a file name ending"):
        export_layout(db_session, sample.layout, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_folder(db_session: Session, sample: Sample, tmp_path: Path) -> None:
    with pytest.raises(InvalidFile, match=r"the folder .* does not exist"):
        export_layout(db_session, sample.layout, tmp_path / "nowhere" / "layout.gpkg")


def test_a_layout_without_grids(db_session: Session, sample: Sample, tmp_path: Path) -> None:
    layout = make.layout(db_session, sample.community, "empty")
    written = export_layout(db_session, layout, tmp_path / "empty.gpkg")
    assert (written.grids, written.buildings) == (0, 5)
    assert len(gpd.read_file(written.path, layer="grids")) == 0
    assert gpd.read_file(written.path, layer="building_grid").grid.isna().all()


def test_the_file_imports_back_as_a_draft_that_changes_nothing(
    db_session: Session, sample: Sample, tmp_path: Path
) -> None:
    # Out to QGIS and back (issue 11, item 8): the grids layer is what the importer reads.
    out = export_layout(db_session, sample.layout, tmp_path / "layout.gpkg").path
    import_layer(
        db_session,
        "grids",
        out,
        community_code=COMMUNITY_CODE,
        layout_name="from QGIS",
        actor=TESTS,
    )
    back = find_layout(db_session, COMMUNITY_CODE, "from QGIS")
    diff = diff_layouts(db_session, back, sample.layout)
    assert diff.moves == []
    assert [(g.code, g.name, g.change) for g in diff.grids] == [
        (code, name, "kept") for code, name in zip(GRID_CODES, GRID_NAMES)
    ]
    assert check_layout(db_session, back).errors == []
