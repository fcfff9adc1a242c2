"""Routing real NYC 311 requests to real community districts.

The 71 NYC community districts (../shared/data/real/nyc-districts-dwillis) are
imported as a grid layout with ``--code-field BoroCD``; every NYC 311 sample in
../shared/data/real/nyc311-* is routed through the same path as ``gridgis
route``. Truth is the request's ``community_board`` ("01 BROOKLYN" → 301). The
board is real-world truth and a little noisy, so the bar is relative: the
routed grid must agree with the board at least as often as exact
point-in-polygon on the same polygons (computed here with shapely), and every
row where routing differs from the polygon containing the point must be
explained by a rule (a boundary tie, or the nearest-grid fallback).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy.orm import Session

from gridgis.routing.files import read_csv, route_table
from gridgis.shapes.importing import import_layer
from tests.support.actors import TESTS
from tests.support.realdata import SHARED_REAL, shared_real

pytestmark = pytest.mark.realdata

BOROUGHS = {"MANHATTAN": 1, "BRONX": 2, "BROOKLYN": 3, "QUEENS": 4, "STATEN ISLAND": 5}


def board_to_borocd(board: str | None) -> int | None:
    """'01 BROOKLYN' → 301; 'Unspecified …' and '0 …' → None."""
    if not board:
        return None
    number, _, borough = board.strip().partition(" ")
    if not number.isdigit() or int(number) == 0 or borough.upper() not in BOROUGHS:
        return None
    return BOROUGHS[borough.upper()] * 100 + int(number)


def sample_files() -> list[Path]:
    files = sorted(SHARED_REAL.glob("nyc311-*/*.csv")) + sorted(SHARED_REAL.glob("nyc311-*/*.json"))
    if not files:
        pytest.skip(
            f"NYC 311 samples are absent from {SHARED_REAL} (../shared is not beside this checkout)"
        )
    return files


def rows_of(path: Path) -> tuple[list[str], list[dict[str, object]], bytes]:
    """The file's rows, and bytes that route_table reads (JSON records become CSV)."""
    data = path.read_bytes()
    if path.suffix == ".csv":
        columns, rows = read_csv(data, str(path))
        return columns, rows, data
    import csv
    import io

    records = json.loads(data)
    columns = sorted({k for r in records for k in r if not isinstance(r[k], (dict, list))})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(records)
    return (
        columns,
        [{c: r.get(c, "") for c in columns} for r in records],
        buffer.getvalue().encode(),
    )


def column(columns: list[str], *names: str) -> str:
    lowered = {c.lower().replace(" ", "_"): c for c in columns}
    for name in names:
        if name in lowered:
            return lowered[name]
    raise AssertionError(f"none of {names} in {columns}")


@pytest.fixture(scope="module")
def districts_path() -> Path:
    return shared_real("nyc-districts-dwillis/community_districts.geojson")


def test_nyc_311_routes_at_least_as_well_as_point_in_polygon(
    db_session: Session, districts_path: Path
) -> None:
    report = import_layer(
        db_session,
        "grids",
        districts_path,
        community_code="NYC",
        code_field="BoroCD",
        fix=True,
        publish=True,
        actor=TESTS,
    )
    assert report.count == 71
    districts = gpd.read_file(districts_path)
    polygons = shapely.make_valid(districts.geometry.values)
    codes = districts["BoroCD"].astype(int).to_numpy()
    tree = shapely.STRtree(polygons)

    totals = {"rows": 0, "judged": 0, "routed_agree": 0, "pip_agree": 0}
    unexplained: list[str] = []
    disagreements: list[str] = []
    for path in sample_files():
        columns, rows, data = rows_of(path)
        board_col = column(columns, "community_board")
        lat_col = column(columns, "latitude")
        lon_col = column(columns, "longitude")
        table = route_table(
            db_session, data, str(path), kind="csv", lon_field=lon_col, lat_field=lat_col
        )
        assert len(table.results) == len(rows), f"{path}: rows lost"
        totals["rows"] += len(rows)
        for row, result in zip(rows, table.results):
            truth = board_to_borocd(str(row.get(board_col) or ""))
            try:
                lon, lat = float(row[lon_col]), float(row[lat_col])  # type: ignore[arg-type]
            except (TypeError, ValueError):
                assert result.rule == "invalid_location"
                continue
            point = shapely.Point(lon, lat)
            hits = tree.query(point, predicate="covered_by")
            pip_codes = sorted(int(codes[i]) for i in hits)
            routed = int(result.grid_code) if result.grid_code else None
            # Explain every difference between routing and plain point-in-polygon.
            if pip_codes != ([routed] if routed is not None else []):
                if len(pip_codes) > 1 and routed in pip_codes:
                    pass  # boundary tie: several polygons cover the point; the rule chose one
                elif not pip_codes and result.rule in (
                    "nearest_grid",
                    "unrouted",
                    "outside_coverage",
                ):
                    pass  # in no polygon: nearest grid within tolerance, or nothing
                else:
                    unexplained.append(
                        f"{path.parent.name}: ({lon}, {lat}) routed {routed} "
                        f"({result.rule}), polygons {pip_codes}"
                    )
            if truth is None:
                continue
            totals["judged"] += 1
            totals["routed_agree"] += routed == truth
            # Generous to the reference: a point on a shared boundary counts as
            # agreeing if any polygon covering it is the board's.
            totals["pip_agree"] += truth in pip_codes
            if routed != truth and len(disagreements) < 15:
                disagreements.append(
                    f"{path.parent.name}: ({lon:.6f}, {lat:.6f}) board {truth}, "
                    f"routed {routed} ({result.rule}), polygons {pip_codes}"
                )

    routed_rate = totals["routed_agree"] / totals["judged"]
    pip_rate = totals["pip_agree"] / totals["judged"]
    print(f"\nNYC 311: {totals['rows']} rows, {totals['judged']} with coordinates and a board")
    print(f"  routed grid agrees with the board: {routed_rate:.4%}")
    print(f"  exact point-in-polygon agrees:     {pip_rate:.4%}")
    print("  first disagreements with the board:\n    " + "\n    ".join(disagreements))
    assert totals["judged"] > 5000
    assert routed_rate >= pip_rate
    assert unexplained == []
    assert np.isfinite(routed_rate)
