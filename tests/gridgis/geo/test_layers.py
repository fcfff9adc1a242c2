"""One spec per layer (gridgis.geo.layers): what files and maps carry follows it.

Each test states what a user would notice: the columns of an exported file, a
file that imports back as the same records (under the field names, Shapefile
short names or aliases), and the properties a map feature carries.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
import pytest
import shapely
from sqlalchemy.orm import Session

from gridgis.geo.layers import LAYER_SPECS, FieldSpec
from gridgis.maps import features
from gridgis.shapes.exporting import export_layer
from gridgis.shapes.fields import read_records
from gridgis.shapes.importing import import_layer
from tests.support.actors import TESTS
from tests.support.sample_community import (
    COMMUNITY_CODE,
    PROPERTY_COMPANY,
    build_sample_community,
)
from tests.support.shape_files import load_fixture, same_geometry

LAYERS = tuple(LAYER_SPECS)
FORMATS = ("geojson", "gpkg", "shp", "csv")

Records = list[dict[str, Any]]


def file_names(layer: str, fmt: str) -> list[str]:
    """The columns a user sees in an exported file, from the spec."""
    fields = LAYER_SPECS[layer].file_fields
    if fmt == "shp":
        return [f.shapefile_name for f in fields]
    names = [f.name for f in fields]
    return [*names, "wkt"] if fmt == "csv" and layer != "staff" else names


def columns_of(path: Path) -> list[str]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return next(csv.reader(fh))
    return list(pyogrio.read_info(str(path))["fields"])


def read_back(path: Path, layer: str) -> tuple[Records, list[shapely.Geometry]]:
    """The records the spec's file fields hold in ``path``, and the geometries."""
    geoms: list[shapely.Geometry] = []
    if path.suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if "wkt" in frame:
            geoms = [shapely.from_wkt(text) for text in frame.pop("wkt")]
    else:
        frame = pyogrio.read_dataframe(str(path))
        geoms = list(frame.geometry)
    fields = LAYER_SPECS[layer].file_fields
    labels = [f"row {i + 1}" for i in range(len(frame))]
    records, present, problems = read_records(frame, fields, labels, path.name)
    assert problems == []
    assert present == {f.name for f in fields}
    return records, geoms


def export(session: Session, layer: str, folder: Path, fmt: str, community: str) -> Path:
    folder.mkdir(exist_ok=True)
    out = folder / f"{layer}.{'csv' if layer == 'staff' else fmt}"
    export_layer(session, layer, out, community_code=community, actor=TESTS)
    return out


def import_into(session: Session, layer: str, path: Path, community: str) -> None:
    import_layer(
        session,
        layer,
        path,
        community_code=community,
        layout_name="rt",
        publish=layer == "grids",
        actor=TESTS,
    )


def assert_same_layer(layer: str, a: Path, b: Path, b_community: str) -> None:
    records_a, geoms_a = read_back(a, layer)
    records_b, geoms_b = read_back(b, layer)
    if layer == "community":
        # The community keeps the code it was imported as; everything else is the file's.
        assert [r.pop("code") for r in records_b] == [b_community]
        records_a[0].pop("code")
    assert records_b == records_a, layer
    assert len(geoms_a) == len(geoms_b)
    assert all(same_geometry(ga, gb) for ga, gb in zip(geoms_a, geoms_b)), layer


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_layer_exports_its_file_fields_and_imports_back(
    db_session: Session, tmp_path: Path, fmt: str
) -> None:
    load_fixture(db_session)
    for layer in LAYERS:
        first = export(db_session, layer, tmp_path / "KM001", fmt, "KM001")
        assert columns_of(first) == file_names(layer, fmt)
        import_into(db_session, layer, first, "KM002")
        again = export(db_session, layer, tmp_path / "KM002", fmt, "KM002")
        assert columns_of(again) == columns_of(first)
        assert_same_layer(layer, first, again, "KM002")


def test_shapefile_names_fit_and_differ_only_where_they_must() -> None:
    for spec in LAYER_SPECS.values():
        for field in spec.file_fields:
            assert len(field.shapefile_name) <= 10, (spec.name, field.name)
            assert (field.short is None) == (len(field.name) <= 10), (spec.name, field.name)


#: Other names a file may use for a field (short names and aliases), as users know them.
KNOWN_NAMES = {
    "community": {
        "code": ("id", "编码", "编号"),
        "name": ("名称",),
        "gap_tolerance_m": ("gap_tol_m",),
        "households_min": ("hh_min",),
        "households_max": ("hh_max",),
    },
    "grids": {"code": ("id", "编码", "编号"), "name": ("名称",)},
    "compounds": {
        "code": ("id", "编码", "编号"),
        "name": ("名称",),
        "property_company": ("prop_comp", "物业"),
        "owners_committee": ("owners_cmt", "业委会"),
    },
    "buildings": {
        "code": ("id", "编码", "编号"),
        "name": ("名称",),
        "address": ("地址",),
        "floors": ("层数",),
        "households": ("户数",),
        "compound": ("小区",),
    },
    "units": {"building": ("楼栋",), "number": ("单元", "单元号"), "households": ("户数",)},
    "staff": {"code": ("id", "编码", "编号", "工号"), "name": ("姓名",), "phone": ("电话",)},
}


def test_the_names_files_use_stay_the_same() -> None:
    known = {
        layer: {f.name: f.accepted_names()[1:] for f in spec.file_fields if f.accepted_names()[1:]}
        for layer, spec in LAYER_SPECS.items()
    }
    assert known == KNOWN_NAMES


def _alternatives(field: FieldSpec) -> tuple[str, ...]:
    """Every other name the importer accepts for ``field``, the upper-case name last."""
    return (*((field.short,) if field.short else ()), *field.aliases, field.name.upper())


#: Enough rounds that every alternative name of every field is used once.
ROUNDS = max(len(_alternatives(f)) for s in LAYER_SPECS.values() for f in s.file_fields)


def _rename(path: Path, layer: str, names: dict[str, str], out: Path) -> Path:
    if layer == "staff":
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
        rows[0] = [names.get(c, c) for c in rows[0]]
        with out.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(rows)
        return out
    doc = json.loads(path.read_text(encoding="utf-8"))
    for feature in doc["features"]:
        feature["properties"] = {names.get(k, k): v for k, v in feature["properties"].items()}
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return out


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_the_spec_aliases_are_accepted_on_import(
    db_session: Session, tmp_path: Path, round_: int
) -> None:
    load_fixture(db_session)
    target = f"KM-A{round_}"
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for layer in LAYERS:
        names = {}
        for field in LAYER_SPECS[layer].file_fields:
            others = _alternatives(field)
            names[field.name] = others[min(round_, len(others) - 1)]
        original = export(db_session, layer, tmp_path / "KM001", "geojson", "KM001")
        aliased = _rename(original, layer, names, renamed / original.name)
        assert columns_of(aliased) == [names[c] for c in columns_of(original) if c != "wkt"]
        import_into(db_session, layer, aliased, target)
        again = export(db_session, layer, tmp_path / target, "geojson", target)
        assert_same_layer(layer, original, again, target)


def test_the_map_layers_are_the_layers_with_a_view() -> None:
    assert [n for n, s in LAYER_SPECS.items() if s.view_fields] == list(features.LAYERS)
    # Staff names and phones never reach a map layer.
    assert LAYER_SPECS["staff"].view_fields == ()


@pytest.mark.parametrize("layer", features.LAYERS)
def test_map_features_carry_exactly_the_view_fields(
    db_session: Session, tmp_path: Path, layer: str
) -> None:
    sample = build_sample_community(db_session)
    spec = LAYER_SPECS[layer]
    view = features.layer_collection(db_session, sample.community, layer)
    assert view["features"]
    for feature in view["features"]:
        assert list(feature["properties"]) == [f.name for f in spec.view_fields]
        assert feature["id"] == "/".join(str(feature["properties"][k]) for k in spec.key)
    # What both show, the map and the exported file show alike.
    shared = [f.name for f in spec.fields if f.in_file and f.in_view]
    records, _ = read_back(export(db_session, layer, tmp_path, "geojson", COMMUNITY_CODE), layer)
    on_map = [{k: f["properties"][k] for k in shared} for f in view["features"]]
    in_file = [{k: r[k] for k in shared} for r in records]
    assert sorted(on_map, key=repr) == sorted(in_file, key=repr)


def test_compound_company_is_a_name_on_the_map_and_a_code_in_files(
    db_session: Session, tmp_path: Path
) -> None:
    sample = build_sample_community(db_session)
    view = features.layer_collection(db_session, sample.community, "compounds")
    (shown,) = [f["properties"] for f in view["features"]]
    assert shown["property_company"] == PROPERTY_COMPANY
    assert shown["has_owners_committee"] is True
    out = export(db_session, "compounds", tmp_path, "geojson", COMMUNITY_CODE)
    (record,), _ = read_back(out, "compounds")
    # The department's code, which the importer looks up (a name would not import).
    assert record["property_company"] == f"{COMMUNITY_CODE}-WY1"
    assert record["owners_committee"] is True
