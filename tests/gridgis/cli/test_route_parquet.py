"""``gridgis route`` with Parquet in and out, against a database of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.routing.files import ROUTING_COLUMNS
from tests.support.cli import gridgis
from tests.support.routing_city import AFTER, build_routing_city


@pytest.fixture
def city_url(scratch_database_url: str) -> Iterator[str]:
    """The routing city committed (the command runs in its own session)."""
    engine = sa.create_engine(scratch_database_url)
    with Session(engine) as session, session.begin():
        build_routing_city(session)
    engine.dispose()
    yield scratch_database_url


POINTS = pa.table(
    {
        "工单号": ["A1", "A2", "A3", "A4"],
        "lon": [114.30105, 114.30505, None, 114.40],
        "lat": [30.50105, 30.508, None, 30.60],
        "cat": ["parking", "medical", None, None],
    }
)


def test_parquet_round_trip(city_url: str, tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(POINTS, source)
    out = tmp_path / "out.parquet"
    args = ["--category-field", "cat", "--at", AFTER.isoformat()]
    result = gridgis("route", source, "--out", out, *args)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Routed 4 rows from {source} to {out}:",
        "  unit                      1",
        "  nearest_grid              1",
        "  outside_coverage          1",
        "  invalid_location          1",
    ]
    routed = pq.read_table(out)
    assert routed.column_names == [*POINTS.column_names, *ROUTING_COLUMNS]
    assert routed.select(POINTS.column_names).equals(POINTS)
    assert routed.column("grid_code").to_pylist() == ["A", "A", None, None]
    assert routed.column("team").to_pylist()[0].startswith("grid_worker:GW")
    # Routed again, the routing columns are replaced in place, not repeated.
    again = tmp_path / "again.parquet"
    assert gridgis("route", out, "--out", again, *args).exit_code == 0
    assert pq.read_table(again).equals(routed)
    # And as CSV: the same answers as text.
    as_csv = tmp_path / "out.csv"
    assert gridgis("route", source, "--out", as_csv, *args).exit_code == 0
    header, first = as_csv.read_text(encoding="utf-8").splitlines()[:2]
    assert header.split(",")[:4] == ["工单号", "lon", "lat", "cat"]
    assert first.startswith("A1,114.30105,30.50105,parking,unit,C1,A,")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            pa.table({"工单号": ["A1"], "x坐标": [114.3]}),
            "cannot tell which columns hold the coordinates; name them with --lon-field and "
            "--lat-field, or give a geometry column of points",
        ),
        (
            pa.table({"lon": ["114.3"], "lat": [30.5]}),
            "column 'lon' holds string, not numbers",
        ),
    ],
)
def test_bad_parquet_is_refused_and_nothing_is_written(
    city_url: str, tmp_path: Path, table: pa.Table, message: str
) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(table, source)
    out = tmp_path / "out.parquet"
    result = gridgis("route", source, "--out", out)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {source}: ")
    assert message in result.output
    assert not out.exists()


def test_a_parquet_past_max_rows_is_refused_unread(city_url: str, tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(POINTS, source)
    out = tmp_path / "out.csv"
    result = gridgis("route", source, "--out", out, "--max-rows", "3")
    assert result.exit_code == 1
    assert "has more than 3 rows" in result.output and "--max-rows" in result.output
    assert not out.exists()
