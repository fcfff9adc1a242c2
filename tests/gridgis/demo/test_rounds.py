"""The demo's rounds (gridgis.demo.rounds): believable, fictional, reproducible.

No database here: the generated files are read as CSV and GeoJSON; loading
them is in test_loader.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from gridgis.demo.generate import SHAPES_DIR, generate
from gridgis.demo.rounds import FINDINGS, MONTH_DAYS, MONTHS, ROUND_FIELDS
from gridgis.models import ROUND_KINDS

OTHER_SEED = 7
#: Office hours as a community office keeps them: a round starts in them, on the ten minutes.
OFFICE = ((dt.time(8, 30), dt.time(12)), (dt.time(14), dt.time(17, 30)))


def read(directory: Path, name: str) -> list[dict[str, str]]:
    with (directory / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def features(directory: Path, name: str) -> list[dict]:
    return json.loads((directory / name).read_text("utf-8"))["features"]


def grid_shapes(directory: Path) -> dict[str, BaseGeometry]:
    return {
        g["properties"]["code"]: shape(g["geometry"]) for g in features(directory, "grids.geojson")
    }


@pytest.fixture(scope="module", params=["committed", "other_seed"])
def demo_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed files, and a demo from another seed: both must be sound."""
    if request.param == "committed":
        return SHAPES_DIR
    out = tmp_path_factory.mktemp("rounds_other_seed")
    generate(out, seed=OTHER_SEED)
    return out


@pytest.fixture(scope="module")
def rounds(demo_dir: Path) -> list[dict[str, str]]:
    return read(demo_dir, "rounds.csv")


@pytest.fixture(scope="module")
def staff(demo_dir: Path) -> list[dict[str, str]]:
    return read(demo_dir, "staff.csv")


def grid_teams(directory: Path, staff: list[dict[str, str]]) -> dict[str, set[str]]:
    """Each grid's "1+1+1+N": its workers and volunteers, and the heads of its buildings."""
    grids = grid_shapes(directory)
    grid_of = {
        b["properties"]["code"]: next(
            code for code, g in grids.items() if g.covers(shape(b["geometry"]))
        )
        for b in features(directory, "buildings.geojson")
    }
    teams: dict[str, set[str]] = {code: set() for code in grids}
    for s in staff:
        if s["grid"]:
            teams[s["grid"]].add(s["code"])
        elif s["role"] == "building_head":
            teams[grid_of[s["building"]]].add(s["code"])
    return teams


def test_file_is_well_formed(rounds: list[dict[str, str]]) -> None:
    assert list(rounds[0]) == ROUND_FIELDS
    assert 300 <= len(rounds) <= 900
    for r in rounds:
        assert r["kind"] in ROUND_KINDS
        assert r["findings"] in FINDINGS[r["kind"]]
        assert re.fullmatch(r"[\u4e00-\u9fff0-9，、：]+", r["findings"]), r["findings"]
        # One place: the grid alone, a building, or a point.
        assert not (r["building"] and r["lon"])
        assert bool(r["lon"]) == bool(r["lat"])
    assert {r["kind"] for r in rounds if r["building"]} == set(ROUND_KINDS)
    assert {r["kind"] for r in rounds if r["lon"]} == {"inventory", "publicity", "collection"}


def test_times_are_office_hours_within_the_demo_months(rounds: list[dict[str, str]]) -> None:
    for r in rounds:
        start = dt.time.fromisoformat(r["time"])
        assert any(a <= start < b for a, b in OFFICE) and start.minute % 10 == 0, r
        # Not today (a round at 16:00 today may not have started yet) and not
        # before the demo's months.
        assert 1 <= int(r["days_ago"]) <= MONTHS * MONTH_DAYS
    per_month = Counter((int(r["days_ago"]) - 1) // MONTH_DAYS for r in rounds)
    assert set(per_month) == set(range(MONTHS))
    assert min(per_month.values()) > 0.7 * max(per_month.values())


def test_every_participant_is_of_the_rounds_grid_team(
    demo_dir: Path, rounds: list[dict[str, str]], staff: list[dict[str, str]]
) -> None:
    teams = grid_teams(demo_dir, staff)
    for r in rounds:
        crew = r["staff"].split(";")
        assert crew and len(set(crew)) == len(crew), r
        assert set(crew) <= teams[r["grid"]], r
    # Somebody is in no two rounds in the same half day.
    slots = Counter(
        (c, r["days_ago"], r["time"] < "13:00") for r in rounds for c in r["staff"].split(";")
    )
    assert max(slots.values()) == 1


def test_workers_and_some_volunteers_log_rounds_of_every_kind_every_month(
    demo_dir: Path, rounds: list[dict[str, str]], staff: list[dict[str, str]]
) -> None:
    roles = {s["code"]: s["role"] for s in staff if s["grid"]}
    loggers = Counter(roles[r["staff"].split(";")[0]] for r in rounds)
    assert set(loggers) == {"grid_worker", "part_time_worker", "volunteer"}
    assert loggers["volunteer"] < loggers["part_time_worker"] < loggers["grid_worker"]
    per_grid = Counter(
        (r["grid"], r["kind"], (int(r["days_ago"]) - 1) // MONTH_DAYS) for r in rounds
    )
    assert len(per_grid) == len(grid_shapes(demo_dir)) * len(ROUND_KINDS) * MONTHS
    assert all(2 <= n <= 15 for n in per_grid.values()), per_grid
    # Staff off duty now have not been out lately.
    away = {s["code"] for s in staff if s["on_duty"] == "false"}
    assert away
    assert not any(away & set(r["staff"].split(";")) for r in rounds if int(r["days_ago"]) <= 14)


def test_places_lie_in_the_rounds_grid(demo_dir: Path, rounds: list[dict[str, str]]) -> None:
    grids = grid_shapes(demo_dir)
    buildings = {b["properties"]["code"]: b for b in features(demo_dir, "buildings.geojson")}
    for r in rounds:
        grid = grids[r["grid"]]
        if r["building"]:
            b = buildings[r["building"]]
            assert grid.covers(shape(b["geometry"])), r
            if r["kind"] == "home_help":
                assert b["properties"]["kind"] != "commercial", r
        elif r["lon"]:
            point = Point(float(r["lon"]), float(r["lat"]))
            assert grid.contains(point), r
            # Clear of the grid's edge, so that the database finds the same grid.
            assert grid.exterior.distance(point) > 1e-4, r  # about 10 m
            assert not any(shape(b["geometry"]).contains(point) for b in buildings.values())


def test_the_same_seed_gives_the_same_rounds_another_seed_others(tmp_path: Path) -> None:
    generate(tmp_path)
    assert (tmp_path / "rounds.csv").read_bytes() == (SHAPES_DIR / "rounds.csv").read_bytes()
    generate(tmp_path / "other", seed=OTHER_SEED)
    other = (tmp_path / "other" / "rounds.csv").read_bytes()
    assert other != (SHAPES_DIR / "rounds.csv").read_bytes()
