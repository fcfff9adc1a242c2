"""Out to QGIS and back (issue 11, item 8): export a layout, edit its grids, import a draft.

``gridgis layout export`` writes a GeoPackage a GDAL reader opens; the grids
are edited as a QGIS user edits them (here with geopandas and shapely, in the
same file); ``gridgis import grids`` takes the file's ``grids`` layer as a new
draft and prints its checks and its diff against the layout in force.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from tests.gridgis.planning.worlds import NOW
from tests.support.cli import count, gridgis
from tests.support.sample_community import (
    COMMUNITY_CODE,
    GRID_CODES,
    LAYOUT_NOW,
    build_sample_community,
)

G1, G2, G3 = GRID_CODES
NEXT = [
    "Next:",
    f"  gridgis layout check back --community {COMMUNITY_CODE}",
    f"  gridgis layout diff back --community {COMMUNITY_CODE}",
    f"  gridgis layout publish back --community {COMMUNITY_CODE} --from TIME --dry-run",
    "(TIME with its zone, e.g. 2027-01-01T00:00+08:00; without --dry-run it publishes.)",
]


@pytest.fixture
def sample_url(scratch_database_url: str) -> Iterator[str]:
    """The sample community committed in a database of the test's own (the commands commit)."""
    engine = sa.create_engine(scratch_database_url)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
    engine.dispose()
    with clock.frozen(NOW):
        yield scratch_database_url


@pytest.fixture
def exported(sample_url: str, tmp_path: Path) -> Path:
    """The layout in force, exported with ``gridgis layout export``."""
    out = tmp_path / "layout.gpkg"
    result = gridgis("layout", "export", LAYOUT_NOW, "--community", COMMUNITY_CODE, out)
    assert result.exit_code == 0, result.output
    return out


def import_back(path: Path, *extra: object) -> list[str]:
    result = gridgis(
        "import", "grids", path, "--community", COMMUNITY_CODE, "--layout", "back", *extra
    )
    # A draft with check errors is still a successful import: the draft is stored.
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def drafts(url: str, name: str = "back") -> int:
    return count(url, f"SELECT count(*) FROM layout WHERE name = '{name}' AND status = 'draft'")


def test_a_gdal_reader_opens_the_export(exported: Path) -> None:
    assert [tuple(row) for row in pyogrio.list_layers(exported)] == [
        ("grids", "MultiPolygon"),
        ("building_grid", "MultiPolygon"),
        ("edit_log", None),
    ]
    fields = {
        name: list(pyogrio.read_info(exported, layer=name)["fields"])
        for name in ("grids", "building_grid", "edit_log")
    }
    assert fields == {
        "grids": ["code", "name"],
        "building_grid": ["building", "building_name", "grid"],
        "edit_log": ["at", "actor", "action", "entity", "entity_id", "after", "note"],
    }


def test_an_unchanged_round_trip_has_no_errors_and_moves_nothing(
    sample_url: str, exported: Path
) -> None:
    lines = import_back(exported)
    assert lines[:3] == [
        f"Imported 3 grids into community {COMMUNITY_CODE}.",
        "Layout 'back': a draft, not yet in force.",
        "",
    ]
    assert lines[3] == f"Layout 'back' of community {COMMUNITY_CODE}: 0 error(s), 3 warning(s)."
    assert [line.split(":")[:2] for line in lines[4:7]] == [["warning", " outside_band"]] * 3
    assert lines[8] == (
        f"Layout 'back' of community {COMMUNITY_CODE} against '{LAYOUT_NOW}': 0 building(s), "
        "0 unit(s) and 0 household(s) change grid."
    )
    assert "No errors: the draft can be published." in lines
    assert lines[-5:] == NEXT
    assert drafts(sample_url) == 1


def edit_as_in_qgis(path: Path) -> None:
    """Edit the grids layer in place: a gap, an overlap and a building cut by an edge.

    The sample's grids are three columns 0.002° wide (G1 | G2 | G3, edges at
    114.302 and 114.304). G1's east edge moves 0.0002° west (a gap); G3 grows
    0.0001° west into G2 north of 30.5915 (an overlap); G2 takes a notch of G3
    in the south up to 114.3048, through building B04 (114.3045-114.3049): B04
    is cut, and its point on the surface (114.3047) now lies in G2.
    """
    grids = gpd.read_file(path, layer="grids")
    shapes = dict(zip(grids.code, grids.geometry))
    notch = shapely.box(114.304, 30.590, 114.3048, 30.5915)
    shapes[G1] = shapes[G1].intersection(shapely.box(114.300, 30.590, 114.3018, 30.594))
    shapes[G2] = shapes[G2].union(notch)
    shapes[G3] = shapes[G3].union(shapely.box(114.3039, 30.590, 114.304, 30.594)) - shapely.box(
        114.3039, 30.590, 114.3048, 30.5915
    )
    grids["geometry"] = [shapely.MultiPolygon([shapes[c]]) for c in grids.code]
    grids.to_file(path, layer="grids", driver="GPKG")


def test_grids_edited_in_qgis_come_back_as_a_checked_draft(sample_url: str, exported: Path) -> None:
    edit_as_in_qgis(exported)
    lines = import_back(exported)
    assert lines[3] == f"Layout 'back' of community {COMMUNITY_CODE}: 3 error(s), 3 warning(s)."
    assert lines[4:7] == [
        f"error: building_cut: building B04 belongs to grid {G2} but 212.7 m² of it lie "
        f"outside that grid, in grid(s) {G3} [at 114.304700,30.591100; "
        "bbox 114.304500,30.591000,114.304900,30.591200]",
        f"error: gap: 8,506.1 m² of the community lie in no grid beside grid(s) {G1}, {G2} "
        "[at 114.301900,30.592000; bbox 114.301800,30.590000,114.302000,30.594000]",
        f"error: overlap: grids {G2} and {G3} overlap on 2,658.1 m² "
        "[at 114.303950,30.592750; bbox 114.303900,30.591500,114.304000,30.594000]",
    ]
    assert [line.split(":")[:2] for line in lines[7:10]] == [["warning", " outside_band"]] * 3
    assert lines[11:16] == [
        f"Layout 'back' of community {COMMUNITY_CODE} against '{LAYOUT_NOW}': 1 building(s), "
        "0 unit(s) and 18 household(s) change grid.",
        "",
        "building  name  units  households  from             to",
        f"B04       4栋       0          18  {G3}  {G2}",
        "",
    ]
    assert lines[-6:] == [
        "3 errors block publishing: correct the grids (in QGIS, then import the file again "
        "as a new draft) until gridgis layout check finds none.",
        *NEXT,
    ]
    assert drafts(sample_url) == 1


def test_a_layer_saved_as_a_file_of_its_own(sample_url: str, exported: Path) -> None:
    # QGIS's "Save Features As..." writes one layer, named as the user likes.
    alone = exported.with_name("网格 edited.gpkg")
    gpd.read_file(exported, layer="grids").to_file(alone, layer="网格 edited", driver="GPKG")
    lines = import_back(alone)
    assert lines[3] == f"Layout 'back' of community {COMMUNITY_CODE}: 0 error(s), 3 warning(s)."
    assert drafts(sample_url) == 1


@pytest.fixture
def renamed(exported: Path) -> Path:
    """The export with its grids layer renamed, as a user may: no layer is named grids."""
    grids = gpd.read_file(exported, layer="grids")
    path = exported.with_name("renamed.gpkg")
    for name in ("building_grid", "edit_log"):
        frame = pyogrio.read_dataframe(exported, layer=name)
        pyogrio.write_dataframe(frame, path, layer=name, append=path.exists())
    pyogrio.write_dataframe(grids, path, layer="网格", append=True)
    return path


def test_several_layers_and_none_named_grids_the_user_chooses(
    sample_url: str, renamed: Path
) -> None:
    result = gridgis("import", "grids", renamed, "--community", COMMUNITY_CODE, "--layout", "back")
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {renamed} holds 3 layers (building_grid, 网格, edit_log); none is named "
        "'grids'. Choose the layer to import with --file-layer NAME.\n"
    )
    assert drafts(sample_url) == 0
    lines = import_back(renamed, "--file-layer", "网格")
    assert lines[0] == f"Imported 3 grids into community {COMMUNITY_CODE}."
    assert drafts(sample_url) == 1


@pytest.mark.parametrize(
    ("file_layer", "message"),
    [
        (
            "roads",
            "{path} has no layer 'roads' (given with --file-layer); its layers are: "
            "building_grid, 网格, edit_log.",
        ),
        (
            "edit_log",
            "{path}: layer 'edit_log' is a table without geometry; choose a layer "
            "of shapes with --file-layer NAME.",
        ),
    ],
)
def test_a_wrong_file_layer(sample_url: str, renamed: Path, file_layer: str, message: str) -> None:
    result = gridgis(
        "import", "grids", renamed, "--community", COMMUNITY_CODE, "--file-layer", file_layer
    )
    assert result.exit_code == 1
    assert result.stderr == f"Error: {message.format(path=renamed)}\n"
    assert count(sample_url, "SELECT count(*) FROM layout") == 3


def test_file_layer_is_for_geopackages(sample_url: str, tmp_path: Path) -> None:
    path = tmp_path / "grids.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    result = gridgis(
        "import", "grids", path, "--community", COMMUNITY_CODE, "--file-layer", "grids"
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: --file-layer 'grids': {path} is a GeoJSON, which holds one layer; "
        "--file-layer chooses a layer of a GeoPackage (.gpkg). Leave it out.\n"
    )


def test_grids_of_a_new_community_have_nothing_to_compare_with(
    sample_url: str, exported: Path
) -> None:
    result = gridgis("import", "grids", exported, "--community", "NEW1", "--layout", "first")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "Imported 3 grids into community NEW1.",
        "Created community NEW1; its boundary is the union of the grids.",
        "Layout 'first': a draft, not yet in force.",
        "",
    ]
    assert lines[4].startswith("Layout 'first' of community NEW1: 0 error(s), ")
    assert (
        "Community NEW1 has no layout in force to compare 'first' with; compare it with "
        "another layout with gridgis layout diff --against NAME."
    ) in lines
    assert "  gridgis layout check first --community NEW1" in lines
