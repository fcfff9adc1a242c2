"""Exporting layers (gridgis.shapes.exporting): every format, and back in as the same data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyogrio
import pytest
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.errors import InvalidInput, NotFound
from gridgis.shapes.exporting import export_layer
from gridgis.shapes.importing import import_layer
from tests.support.actors import TESTS
from tests.support.shape_files import KUNMING, SHAPES, load_fixture, same_geometry

LAYERS = ("community", "grids", "compounds", "buildings", "units", "staff")
FORMATS = ("geojson", "json", "gpkg", "shp", "csv")

# What a community holds, as plain values plus geometry (last in each row).
_QUERIES = {
    "community": """SELECT name, gap_tolerance_m, households_min, households_max,
                           ST_AsBinary(boundary) FROM community WHERE code = :c""",
    "grids": """SELECT g.code, g.name, ST_AsBinary(g.geom) FROM grid g
                JOIN layout l ON l.id = g.layout_id JOIN community c ON c.id = l.community_id
                WHERE c.code = :c AND l.status = 'published' ORDER BY g.code""",
    "compounds": """SELECT p.code, p.name, d.code, p.has_owners_committee, ST_AsBinary(p.geom)
                    FROM compound p JOIN community c ON c.id = p.community_id
                    LEFT JOIN department d ON d.id = p.property_company_id
                    WHERE c.code = :c ORDER BY p.code""",
    "buildings": """SELECT b.code, b.name, b.address, b.floors, b.households, p.code,
                           ST_AsBinary(b.geom)
                    FROM building b JOIN community c ON c.id = b.community_id
                    LEFT JOIN compound p ON p.id = b.compound_id
                    WHERE c.code = :c ORDER BY b.code""",
    "units": """SELECT b.code, u.number, u.households, ST_AsBinary(u.geom) FROM unit u
                JOIN building b ON b.id = u.building_id JOIN community c ON c.id = b.community_id
                WHERE c.code = :c ORDER BY b.code, u.number""",
    "staff": """SELECT s.code, s.name, s.phone, a.role, g.code, coalesce(b.code, ub.code),
                       u.number, a.volunteer_team, a.on_duty
                FROM staff s JOIN community c ON c.id = s.community_id
                LEFT JOIN assignment a ON a.staff_id = s.id
                LEFT JOIN grid g ON g.id = a.grid_id
                LEFT JOIN building b ON b.id = a.building_id
                LEFT JOIN unit u ON u.id = a.unit_id LEFT JOIN building ub ON ub.id = u.building_id
                WHERE c.code = :c ORDER BY 1, 4, 5, 8""",
}


def snapshot(session: Session, code: str) -> dict[str, list[tuple[Any, ...]]]:
    return {
        layer: [tuple(r) for r in session.execute(sa.text(sql), {"c": code})]
        for layer, sql in _QUERIES.items()
    }


def assert_same(
    a: dict[str, list[tuple[Any, ...]]],
    b: dict[str, list[tuple[Any, ...]]],
    layers: tuple[str, ...] = LAYERS,
) -> None:
    for layer in layers:
        assert len(a[layer]) == len(b[layer]) > 0, layer
        for row_a, row_b in zip(a[layer], b[layer]):
            if layer == "staff":
                assert row_a == row_b
                continue
            assert row_a[:-1] == row_b[:-1], layer
            geom_a, geom_b = (shapely.from_wkb(bytes(r[-1])) for r in (row_a, row_b))
            assert same_geometry(geom_a, geom_b), (layer, row_a[:-1])


def _export_and_reimport(
    session: Session, tmp_path: Path, fmt: str, layers: tuple[str, ...], source: str, target: str
) -> dict[str, int]:
    written = {}
    for layer in layers:
        out = tmp_path / f"{layer}.{'csv' if layer == 'staff' else fmt}"
        written[layer] = export_layer(session, layer, out, community_code=source, actor=TESTS)
        import_layer(
            session,
            layer,
            out,
            community_code=target,
            layout_name="rt",
            publish=layer == "grids",
            actor=TESTS,
        )
    return written


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_of_every_layer(db_session: Session, tmp_path: Path, fmt: str) -> None:
    load_fixture(db_session)
    written = _export_and_reimport(db_session, tmp_path, fmt, LAYERS, "KM001", "KM002")
    assert written == {
        "community": 1,
        "grids": 2,
        "compounds": 2,
        "buildings": 4,
        "units": 3,
        "staff": 8,
    }
    assert_same(snapshot(db_session, "KM001"), snapshot(db_session, "KM002"))


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "csv"])
def test_kunming_buildings_round_trip(db_session: Session, tmp_path: Path, fmt: str) -> None:
    import_layer(db_session, "buildings", KUNMING, community_code="KM", actor=TESTS)
    _export_and_reimport(db_session, tmp_path, fmt, ("buildings",), "KM", "KM-copy")
    assert_same(snapshot(db_session, "KM"), snapshot(db_session, "KM-copy"), ("buildings",))
    assert len(snapshot(db_session, "KM-copy")["buildings"]) == 140


def test_shapefile_fields_fit_ten_characters_and_say_utf8(
    db_session: Session, tmp_path: Path
) -> None:
    load_fixture(db_session, until="buildings")
    out = tmp_path / "compounds.shp"
    export_layer(db_session, "compounds", out, community_code="KM001", actor=TESTS)
    info = pyogrio.read_info(str(out))
    assert list(info["fields"]) == ["code", "name", "prop_comp", "owners_cmt"]
    assert out.with_suffix(".cpg").read_text().strip() == "UTF-8"
    frame = pyogrio.read_dataframe(str(out))
    assert list(frame["name"]) == ["金色年华", "翠苑小区"]
    export_layer(
        db_session, "community", tmp_path / "community.shp", community_code="KM001", actor=TESTS
    )
    assert list(pyogrio.read_info(str(tmp_path / "community.shp"))["fields"]) == [
        "code",
        "name",
        "gap_tol_m",
        "hh_min",
        "hh_max",
    ]


def test_exported_fields_are_what_the_importer_reads(db_session: Session, tmp_path: Path) -> None:
    load_fixture(db_session)
    expected = {
        "grids": ["code", "name"],
        "compounds": ["code", "name", "property_company", "owners_committee"],
        "buildings": ["code", "name", "address", "floors", "households", "compound"],
        "units": ["building", "number", "households"],
    }
    for layer, fields in expected.items():
        out = tmp_path / f"{layer}.gpkg"
        export_layer(db_session, layer, out, community_code="KM001", actor=TESTS)
        assert list(pyogrio.read_info(str(out))["fields"]) == fields
    export_layer(db_session, "buildings", tmp_path / "b.csv", community_code="KM001", actor=TESTS)
    header = (tmp_path / "b.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header == "code,name,address,floors,households,compound,wkt"
    export_layer(db_session, "staff", tmp_path / "s.csv", community_code="KM001", actor=TESTS)
    lines = (tmp_path / "s.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "code,name,phone,role,grid,building,unit,team,on_duty"
    assert "S04,刘洋,13800000004,unit_head,,B1,1,,true" in lines


def test_grids_export_the_layout_in_force_or_the_one_named(
    db_session: Session, tmp_path: Path
) -> None:
    load_fixture(db_session, until="grids")
    # A one-grid draft beside the published two-grid layout.
    import_layer(
        db_session,
        "grids",
        SHAPES / "community.geojson",
        community_code="KM001",
        layout_name="草案",
        actor=TESTS,
    )
    assert (
        export_layer(
            db_session, "grids", tmp_path / "a.geojson", community_code="KM001", actor=TESTS
        )
        == 2
    )
    assert (
        export_layer(
            db_session,
            "grids",
            tmp_path / "b.geojson",
            community_code="KM001",
            layout_name="草案",
            actor=TESTS,
        )
        == 1
    )
    with pytest.raises(NotFound, match=r"has no layout named 'nope'; its layouts are"):
        export_layer(
            db_session,
            "grids",
            tmp_path / "c.geojson",
            community_code="KM001",
            layout_name="nope",
            actor=TESTS,
        )


def test_bad_requests(db_session: Session, tmp_path: Path) -> None:
    load_fixture(db_session, until="grids")
    with pytest.raises(InvalidInput, match=r"b.kml: unknown extension '.kml'; export to .geojson"):
        export_layer(db_session, "grids", tmp_path / "b.kml", community_code="KM001", actor=TESTS)
    with pytest.raises(InvalidInput, match=r"staff have no geometry; export them to a \.csv file"):
        export_layer(
            db_session, "staff", tmp_path / "s.geojson", community_code="KM001", actor=TESTS
        )
    with pytest.raises(NotFound, match=r"Community KM001 has no buildings to export\."):
        export_layer(
            db_session, "buildings", tmp_path / "b.geojson", community_code="KM001", actor=TESTS
        )
    with pytest.raises(NotFound, match="No community with code 'XX'"):
        export_layer(db_session, "grids", tmp_path / "g.geojson", community_code="XX", actor=TESTS)
    assert not list(tmp_path.iterdir())
