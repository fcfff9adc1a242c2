"""Files routed column-wise: the same bytes as row by row, and Parquet and GeoPackage out."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from sqlalchemy.orm import Session

from gridgis.errors import InvalidFile, InvalidInput
from gridgis.routing.files import ROUTING_COLUMNS, route_file, route_table, write_table
from gridgis.routing.reading import TooManyRows
from tests.gridgis.routing.test_files import MESSY_CSV
from tests.support.routing_city import AFTER

GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [114.30105, 30.50105]},
            "properties": {"ref": "a", "cat": "property"},
        },
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [[114.3, 30.5], [114.31, 30.51]]},
            "properties": {"ref": "b"},
        },
        {"type": "Feature", "geometry": None, "properties": {"ref": "c"}},
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [114.30505, 30.508]},
            "properties": {"ref": "d", "cat": "medical"},
        },
    ],
}


@pytest.mark.parametrize(
    ("name", "data", "options"),
    [
        ("in.csv", MESSY_CSV, {"category_field": "cat"}),
        ("in.geojson", json.dumps(GEOJSON).encode(), {"category_field": "cat"}),
        ("in.csv", b"x,y\n114.3083,30.5053\n114.3,30.5\n", {"crs": "gcj02"}),
    ],
)
def test_column_wise_files_are_the_row_wise_bytes(
    db_session: Session, city, tmp_path: Path, name: str, data: bytes, options: dict[str, str]
) -> None:
    source = tmp_path / name
    source.write_bytes(data)
    out = tmp_path / ("out" + source.suffix)
    route_file(db_session, source, out, at=AFTER, **options)
    expected = write_table(route_table(db_session, data, name, at=AFTER, **options))
    assert out.read_bytes() == expected


def test_a_csv_routed_to_parquet_keeps_rows_and_types(
    db_session: Session, city, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(MESSY_CSV)
    out = tmp_path / "out.parquet"
    routed = route_file(db_session, source, out, category_field="cat", at=AFTER)
    table = pq.read_table(out)
    assert table.column_names == ["id", "Complaint", "Amount", "Longitude", "Latitude", "cat"] + [
        c for c in ROUTING_COLUMNS
    ]
    assert table.column("Amount").to_pylist() == ["1,234", "12", "2,000", "7", "8"]
    assert table.schema.field("building_id").type == pa.int64()
    assert table.schema.field("distance_m").type == pa.float64()
    assert table.column("rule").to_pylist() == [
        "unit",
        "invalid_location",
        "invalid_location",
        "outside_coverage",
        "nearest_grid",
    ]
    assert table.column("grid_code").to_pylist()[0] == "A"
    assert table.column("distance_m").to_pylist()[1] is None
    assert routed.summary()["invalid_location"] == 2


def test_parquet_in_with_lon_lat_or_a_geometry_column(
    db_session: Session, city, tmp_path: Path
) -> None:
    points = [(114.30105, 30.50105), (114.30505, 30.508), (114.40, 30.60)]
    by_columns = tmp_path / "cols.parquet"
    pq.write_table(
        pa.table(
            {
                "ref": [1, 2, 3],
                "经度": [p[0] for p in points],
                "纬度": [p[1] for p in points],
                "cat": ["parking", None, "medical"],
            }
        ),
        by_columns,
    )
    by_geometry = tmp_path / "geom.parquet"
    wkb = [shapely.Point(p).wkb for p in points] + [shapely.box(0, 0, 1, 1).wkb, None]
    pq.write_table(
        pa.table(
            {
                "ref": [1, 2, 3, 4, 5],
                "cat": ["parking", None, "medical", None, None],
                "geometry": pa.array(wkb, type=pa.binary()),
            }
        ),
        by_geometry,
    )
    a = route_file(db_session, by_columns, tmp_path / "a.parquet", category_field="cat", at=AFTER)
    b = route_file(db_session, by_geometry, tmp_path / "b.parquet", category_field="cat", at=AFTER)
    assert a.routed.slice(0, 3).equals(b.routed.slice(0, 3))
    out = pq.read_table(tmp_path / "b.parquet")
    assert out.column("ref").to_pylist() == [1, 2, 3, 4, 5]  # the input's own types
    assert out.column("rule").to_pylist() == [
        "unit",
        "nearest_grid",
        "outside_coverage",
        "invalid_location",
        "invalid_location",
    ]
    assert out.column("reason").to_pylist()[3:] == [
        "geometry is a Polygon, not a Point",
        "no geometry",
    ]


def test_geopackage_out(db_session: Session, city, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(MESSY_CSV)
    out = tmp_path / "out.gpkg"
    route_file(db_session, source, out, category_field="cat", at=AFTER)
    frame = pyogrio.read_dataframe(out)
    assert frame.crs.to_epsg() == 4326
    assert list(frame["rule"]) == [
        "unit",
        "invalid_location",
        "invalid_location",
        "outside_coverage",
        "nearest_grid",
    ]
    assert frame.geometry[0].equals(shapely.Point(114.30105, 30.50105))
    assert frame.geometry[1] is None
    assert list(tmp_path.iterdir()) == [source, out]  # no temporary file left


@pytest.mark.parametrize(
    ("table", "options", "message"),
    [
        (pa.table({"a": [1.0], "b": [2.0]}), {}, "cannot tell which columns hold the coordinates"),
        (
            pa.table({"lon": ["114.3"], "lat": ["30.5"]}),
            {},
            "column 'lon' holds string, not numbers; the longitude and latitude columns",
        ),
        (
            pa.table({"geometry": [1], "ref": [2]}),
            {},
            "the geometry column 'geometry' holds int64; expected points as WKB",
        ),
        (
            pa.table({"lon": [114.3], "lat": [30.5], "cat": [7]}),
            {"category_field": "cat"},
            "the category column 'cat' holds int64; expected text",
        ),
        (pa.table({"lon": [114.3], "lat": [30.5]}), {"lon_field": "east"}, "no column 'east'"),
    ],
)
def test_bad_parquet_is_refused_and_nothing_is_written(
    db_session: Session,
    city,
    tmp_path: Path,
    table: pa.Table,
    options: dict[str, str],
    message: str,
) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(table, source)
    out = tmp_path / "out.parquet"
    with pytest.raises(InvalidInput, match=message):
        route_file(db_session, source, out, at=AFTER, **options)
    assert not out.exists()


def test_not_parquet_and_too_many_rows(db_session: Session, city, tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    source.write_bytes(b"lon,lat\n114.3,30.5\n")
    with pytest.raises(InvalidFile, match="not a Parquet file"):
        route_file(db_session, source, tmp_path / "out.parquet", at=AFTER)
    pq.write_table(pa.table({"lon": [114.3] * 3, "lat": [30.5] * 3}), source)
    with pytest.raises(TooManyRows, match="more than 2 rows"):
        route_file(db_session, source, tmp_path / "out.parquet", at=AFTER, max_rows=2)
    assert not (tmp_path / "out.parquet").exists()


def test_geojson_goes_to_geojson_or_a_geopackage(db_session: Session, city, tmp_path: Path) -> None:
    source = tmp_path / "in.geojson"
    source.write_text(json.dumps(GEOJSON))
    with pytest.raises(InvalidInput, match="GeoJSON input is written as GeoJSON"):
        route_file(db_session, source, tmp_path / "out.parquet", at=AFTER)
    route_file(db_session, source, tmp_path / "out.gpkg", at=AFTER)
    assert list(pyogrio.read_dataframe(tmp_path / "out.gpkg")["ref"]) == ["a", "b", "c", "d"]
