"""Grids files drawn or edited elsewhere (QGIS) come in as drafts, broken or not.

A draft may have gaps, overlaps and buildings cut by a grid edge: the
importer stores it and leaves the problems to the layout checks, which only
publishing obeys. A GeoPackage with several layers gives up the layer named
for what is imported, whatever its case.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from sqlalchemy.orm import Session

from gridgis.errors import InvalidFile
from gridgis.planning.checks import check_layout
from gridgis.planning.drafts import find_layout
from gridgis.shapes.importing import import_layer
from gridgis.shapes.reading import read_shapes
from tests.support.actors import TESTS
from tests.support.sample_community import (
    COMMUNITY_CODE,
    GRID_CODES,
    GRID_NAMES,
    build_sample_community,
)

G1, G2, G3 = GRID_CODES


def broken_grids() -> gpd.GeoDataFrame:
    """The sample's three columns, with a gap (G1 | G2), an overlap (G2 | G3), B04/B05 cut."""
    shapes = [
        shapely.box(114.300, 30.590, 114.3018, 30.594),
        shapely.box(114.302, 30.590, 114.3047, 30.594),  # into G3
        shapely.box(114.3046, 30.590, 114.306, 30.594),  # its west edge through B04
    ]
    return gpd.GeoDataFrame(
        {"code": list(GRID_CODES), "name": list(GRID_NAMES)}, geometry=shapes, crs="EPSG:4326"
    )


def test_a_broken_grids_file_is_stored_as_a_draft(db_session: Session, tmp_path: Path) -> None:
    build_sample_community(db_session)
    path = tmp_path / "edited.gpkg"
    broken_grids().to_file(path, layer="grids", driver="GPKG")
    report = import_layer(
        db_session, "grids", path, community_code=COMMUNITY_CODE, layout_name="edited", actor=TESTS
    )
    assert (report.count, report.layout, report.published) == (3, "edited", False)
    draft = find_layout(db_session, COMMUNITY_CODE, "edited")
    assert draft.status == "draft"
    errors = check_layout(db_session, draft).errors
    assert sorted({p.kind for p in errors}) == ["building_cut", "gap", "overlap"]
    # B04 and B05, one above the other, both straddle G3's new west edge.
    cut = [p.buildings for p in errors if p.kind == "building_cut"]
    assert cut == [("B04",), ("B05",)]


def write_layers(path: Path, *names: str) -> None:
    for i, name in enumerate(names):
        pyogrio.write_dataframe(broken_grids(), str(path), layer=name, append=i > 0)


def test_the_layer_named_like_the_import_whatever_its_case(tmp_path: Path) -> None:
    path = tmp_path / "several.gpkg"
    write_layers(path, "buildings", "Grids")
    assert len(read_shapes(path, layer="grids").frame) == 3
    # Chosen by the user, also whatever its case.
    assert len(read_shapes(path, layer="units", file_layer="BUILDINGS").frame) == 3


def test_several_layers_and_none_named_so(tmp_path: Path) -> None:
    path = tmp_path / "several.gpkg"
    write_layers(path, "a", "b")
    with pytest.raises(
        InvalidFile,
        match=r"holds 2 layers \(a, b\); none is named 'grids'\. Choose the layer to import "
        r"with --file-layer NAME\.",
    ):
        read_shapes(path, layer="grids")
    with pytest.raises(InvalidFile, match=r"has no layer 'c' \(given with --file-layer\)"):
        read_shapes(path, layer="grids", file_layer="c")
