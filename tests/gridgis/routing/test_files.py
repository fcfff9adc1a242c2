"""Routing whole CSV and GeoJSON files: every row back, in order, with its columns."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from gridgis.errors import InvalidFile, InvalidInput
from gridgis.routing.files import ROUTING_COLUMNS, route_table, write_table
from tests.support.routing_city import AFTER

MESSY_CSV = (
    "\ufeffid,Complaint,Amount,Longitude,Latitude,cat\r\n"
    '1,"Car on the\npavement","1,234",114.30105,30.50105,parking\r\n'
    "2,Noise,12,,,\r\n"
    '3,Rubbish,"2,000",abc,30.5,\r\n'
    "4,Far away,7,114.40,30.60,\r\n"
    "5,Gap,8,114.30505,30.508,medical\r\n"
).encode("utf-8")


def parse(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_messy_real_world_csv_keeps_every_row_and_column(db_session: Session, city) -> None:
    table = route_table(db_session, MESSY_CSV, "messy.csv", category_field="cat", at=AFTER)
    rows = parse(write_table(table))
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[0]["Complaint"] == "Car on the\npavement"  # quoted newline survives
    assert rows[0]["Amount"] == "1,234"  # thousands separator untouched
    assert list(rows[0])[:6] == ["id", "Complaint", "Amount", "Longitude", "Latitude", "cat"]
    assert set(ROUTING_COLUMNS) <= set(rows[0])
    assert [r["rule"] for r in rows] == [
        "unit",
        "invalid_location",
        "invalid_location",
        "outside_coverage",
        "nearest_grid",
    ]
    assert rows[0]["grid_code"] == "A" and rows[0]["departments"] == "CG;JJ"
    assert rows[1]["reason"] == "no coordinates"
    assert "unparsable coordinates in Longitude/Latitude: 'abc'" in rows[2]["reason"]
    assert table.summary()["invalid_location"] == 2


def test_names_and_phones_never_reach_the_output(db_session: Session, city) -> None:
    out = write_table(route_table(db_session, MESSY_CSV, "messy.csv", at=AFTER)).decode()
    assert "王网格" not in out and "13800000001" not in out
    assert "grid_worker:GW" in out


def test_geojson_in_geojson_out(db_session: Session, city) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [114.3003, 30.508]},
                "properties": {"ref": "a"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[114.3, 30.5], [114.31, 30.51]]},
                "properties": {"ref": "b"},
            },
            {"type": "Feature", "geometry": None, "properties": {"ref": "c"}},
        ],
    }
    table = route_table(db_session, json.dumps(doc).encode(), "in.geojson", at=AFTER)
    out = json.loads(write_table(table))
    props = [f["properties"] for f in out["features"]]
    assert [p["ref"] for p in props] == ["a", "b", "c"]
    assert [p["rule"] for p in props] == ["grid", "invalid_location", "invalid_location"]
    assert "LineString" in props[1]["reason"]


def test_columns_that_cannot_be_found_are_named(db_session: Session, city) -> None:
    with pytest.raises(InvalidInput, match="--lon-field and --lat-field"):
        route_table(db_session, b"a,b\n1,2\n", "x.csv")
    with pytest.raises(InvalidInput, match="no column 'east'"):
        route_table(db_session, b"a,b\n1,2\n", "x.csv", lon_field="east", lat_field="b")


@pytest.mark.parametrize(
    "data, message",
    [(b"", "empty"), (b"  \n", "empty"), (b'{"type": "FeatureCollection", "feat', "not valid")],
)
def test_empty_and_truncated_files(db_session: Session, city, data: bytes, message: str) -> None:
    source = "x.geojson" if data.startswith(b"{") else "x.csv"
    with pytest.raises(InvalidFile, match=message):
        route_table(db_session, data, source)


def test_gcj02_file_routes_like_its_wgs84_twin(db_session: Session, city) -> None:
    from gridgis.geo.crs import wgs84_to_gcj02

    points = [(114.30105, 30.50105), (114.3049, 30.502), (114.3051, 30.502), (114.30505, 30.508)]
    wgs = "lon,lat\n" + "".join(f"{x},{y}\n" for x, y in points)
    gcj = "lon,lat\n" + "".join("{},{}\n".format(*wgs84_to_gcj02(x, y)) for x, y in points)
    a = route_table(db_session, wgs.encode(), "w.csv", at=AFTER)
    b = route_table(db_session, gcj.encode(), "g.csv", crs="gcj02", at=AFTER)
    assert (
        [r.grid_code for r in a.results] == [r.grid_code for r in b.results] == ["A", "A", "B", "A"]
    )


def test_cli_route_prints_a_summary(scratch_database_url: str, tmp_path: Path) -> None:
    from gridgis.cli import main

    src = tmp_path / "in.csv"
    src.write_bytes(b"lon,lat\n114.3,30.5\n,\n")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["route", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Routed 2 rows" in result.output
    assert "outside_coverage" in result.output and "invalid_location" in result.output
    assert len(parse(out.read_bytes())) == 2


def test_cli_route_refuses_a_time_without_zone(scratch_database_url: str, tmp_path: Path) -> None:
    from gridgis.cli import main

    src = tmp_path / "in.csv"
    src.write_bytes(b"lon,lat\n114.3,30.5\n")
    result = CliRunner().invoke(
        main, ["route", str(src), "--out", str(tmp_path / "o.csv"), "--at", "2026-01-01T00:00:00"]
    )
    assert result.exit_code == 1
    assert "needs a time zone" in result.output
