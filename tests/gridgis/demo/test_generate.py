"""The demo community generator (gridgis.demo.generate): reproducible, and a believable community.

No database here: these tests read the generated files with shapely and
geopandas, in the local UTM zone wherever metres matter.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape

from gridgis.demo.generate import SHAPES_DIR, generate

LAYERS = ("community", "grids", "compounds", "buildings", "units", "roads", "departments")
FILES = {f"{layer}.geojson" for layer in LAYERS} | {
    "categories.json",
    "staff.csv",
    "households.csv",
    "visits.csv",
    "rounds.csv",
    "README.md",
}
OTHER_SEED = 7


class Demo:
    """One generated demo, read back: raw JSON, GeoDataFrames in UTM, staff rows."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.raw = {n: json.loads((directory / f"{n}.geojson").read_text("utf-8")) for n in LAYERS}
        self.gdf = {
            n: gpd.GeoDataFrame.from_features(self.raw[n]["features"], crs="EPSG:4326")
            for n in LAYERS
        }
        self.utm_crs = self.gdf["community"].estimate_utm_crs()
        self.m = {n: g.to_crs(self.utm_crs) for n, g in self.gdf.items() if n != "departments"}
        self.categories = json.loads((directory / "categories.json").read_text("utf-8"))
        with (directory / "staff.csv").open(encoding="utf-8", newline="") as f:
            self.staff = list(csv.DictReader(f))
        self.community = self.raw["community"]["features"][0]["properties"]

    def grid_of_buildings(self) -> dict[str, str]:
        grids, out = self.m["grids"], {}
        for b in self.m["buildings"].itertuples():
            owners = grids[grids.geometry.covers(b.geometry)]
            out[b.code] = owners.code.iloc[0] if len(owners) == 1 else None
        return out


@pytest.fixture(scope="module")
def committed() -> Demo:
    return Demo(SHAPES_DIR)


@pytest.fixture(scope="module", params=["committed", "other_seed"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The committed files, and a demo from another seed: both must be sound."""
    if request.param == "committed":
        return Demo(SHAPES_DIR)
    out = tmp_path_factory.mktemp("demo_other_seed")
    generate(out, seed=OTHER_SEED)
    return Demo(out)


# --- reproducibility ------------------------------------------------------------
def _read_all(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", seed=123)
    second = generate(tmp_path / "b", seed=123)
    assert first == second
    assert _read_all(tmp_path / "a") == _read_all(tmp_path / "b")
    assert set(_read_all(tmp_path / "a")) == FILES


def test_committed_files_equal_a_fresh_generation(tmp_path: Path) -> None:
    counts = generate(tmp_path)
    fresh, committed = _read_all(tmp_path), _read_all(SHAPES_DIR)
    assert set(committed) == FILES, "data/shapes holds other files than the generator writes"
    stale = sorted(name for name in FILES if fresh[name] != committed[name])
    assert not stale, f"data/shapes is stale, run `gridgis demo generate`: {stale}"
    assert sum(len(b) for b in committed.values()) < 2_000_000
    assert counts["buildings"] == len(json.loads(fresh["buildings.geojson"])["features"])


def test_another_seed_changes_the_people_and_the_village_only(tmp_path: Path) -> None:
    generate(tmp_path)
    generate(tmp_path / "other", seed=OTHER_SEED)
    for name in (
        "community.geojson",
        "grids.geojson",
        "compounds.geojson",
        "roads.geojson",
        "categories.json",
    ):
        assert (tmp_path / name).read_bytes() == (tmp_path / "other" / name).read_bytes()
    assert (tmp_path / "staff.csv").read_bytes() != (tmp_path / "other" / "staff.csv").read_bytes()


# --- file format ----------------------------------------------------------------
def _rings(geometry: dict) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return geometry["coordinates"]
    if geometry["type"] == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return [geometry["coordinates"]]


def test_geojson_is_rfc7946_lonlat_near_nanhu(committed: Demo) -> None:
    for name, doc in committed.raw.items():
        assert doc["type"] == "FeatureCollection" and "crs" not in doc, name
        for f in doc["features"]:
            if f["geometry"] is None:
                continue
            geom = shape(f["geometry"])
            assert geom.is_valid, (name, f["properties"])
            for ring in _rings(f["geometry"]):
                for lon, lat in ring:
                    assert 114.33 < lon < 114.36 and 30.49 < lat < 30.52, (name, lon, lat)
                    assert round(lon, 7) == lon and round(lat, 7) == lat
            for polygon in getattr(geom, "geoms", [geom]):
                if polygon.geom_type == "Polygon":
                    assert polygon.exterior.is_ccw, (name, f["properties"])
                    assert not any(h.is_ccw for h in polygon.interiors), name
                    assert f["geometry"]["coordinates"][0][0] == f["geometry"]["coordinates"][0][-1]


def test_codes_and_counts(committed: Demo) -> None:
    code = committed.community["code"]
    assert re.fullmatch(r"420111\d{6}", code)
    assert committed.community == {
        "code": code,
        "name": "南湖社区",
        "gap_tolerance_m": 30,
        "households_min": 300,
        "households_max": 500,
    }
    grid_codes = list(committed.gdf["grids"].code)
    assert 6 <= len(grid_codes) <= 10
    assert all(re.fullmatch(code + r"\d{3}", g) for g in grid_codes)
    assert len(set(grid_codes)) == len(grid_codes)
    b = committed.gdf["buildings"]
    assert len(b) >= 60 and b.code.is_unique
    assert len(committed.gdf["units"]) >= 200
    assert b.households.sum() >= 3000
    assert set(b.kind) == {"residential", "commercial", "village"}


# --- grids ----------------------------------------------------------------------
def test_grids_tile_the_community_exactly(demo: Demo) -> None:
    community = demo.gdf["community"].geometry.iloc[0]
    grids = list(demo.gdf["grids"].geometry)
    union = shapely.union_all(grids)
    assert union.geom_type == "Polygon"
    assert union.hausdorff_distance(community) < 1e-9
    assert union.symmetric_difference(community).area < 1e-15
    metric = list(demo.m["grids"].geometry)
    assert sum(g.area for g in metric) == pytest.approx(demo.m["community"].area.iloc[0], abs=1e-3)
    for a, b in itertools.combinations(metric, 2):
        assert a.intersection(b).area < 1e-6


def test_grid_boundaries_run_mostly_along_roads(demo: Demo) -> None:
    community = demo.m["community"].geometry.iloc[0]
    inner = shapely.union_all([g.boundary for g in demo.m["grids"].geometry]).difference(
        community.boundary.buffer(0.01)
    )
    roads = shapely.union_all(
        [r.geometry.buffer(r.width_m / 2) for r in demo.m["roads"].itertuples()]
    )
    assert inner.intersection(roads).length / inner.length > 0.6


def test_each_building_lies_in_exactly_one_grid(demo: Demo) -> None:
    grids = demo.m["grids"]
    for b in demo.m["buildings"].itertuples():
        touched = grids[grids.geometry.intersection(b.geometry).area > 1e-6]
        assert len(touched) == 1, b.name
        assert touched.geometry.iloc[0].covers(b.geometry), b.name


def test_grids_hold_the_configured_household_band(committed: Demo) -> None:
    owner = committed.grid_of_buildings()
    per_grid = Counter()
    for b in committed.gdf["buildings"].itertuples():
        per_grid[owner[b.code]] += b.households
    assert set(per_grid) == set(committed.gdf["grids"].code)
    low, high = committed.community["households_min"], committed.community["households_max"]
    assert all(low <= n <= high for n in per_grid.values()), per_grid


# --- buildings and units --------------------------------------------------------
def test_buildings_do_not_overlap_each_other_or_roads(demo: Demo) -> None:
    buildings = demo.m["buildings"]
    assert buildings.geometry.is_valid.all()
    left, right = buildings.sindex.query(buildings.geometry, predicate="intersects")
    pairs = [(i, j) for i, j in zip(left, right) if i < j]
    assert not pairs, [(buildings.name.iloc[i], buildings.name.iloc[j]) for i, j in pairs]
    for road in demo.m["roads"].itertuples():
        hit = buildings[buildings.intersects(road.geometry.buffer(road.width_m / 2))]
        assert hit.empty, (road.name, list(hit.name))
    assert "仁和南路" in set(demo.gdf["roads"].name)
    assert set(demo.gdf["roads"].geometry.geom_type) == {"LineString"}


def test_building_footprints_have_plausible_sizes(demo: Demo) -> None:
    for b in demo.m["buildings"].itertuples():
        rect = b.geometry.minimum_rotated_rectangle
        xy = list(rect.exterior.coords)
        sides = [shapely.Point(xy[i]).distance(shapely.Point(xy[i + 1])) for i in range(2)]
        assert min(sides) >= 9.95 and max(sides) <= 70.05, (b.name, sides)
        # rectangles, up to the centimetre that rounding to 7 decimals moves a corner
        assert b.geometry.area == pytest.approx(rect.area, rel=2e-3), b.name


def test_compound_buildings_lie_inside_their_compound(demo: Demo) -> None:
    compounds = demo.m["compounds"].set_index("code")
    for b in demo.m["buildings"].itertuples():
        if pd.isna(b.compound):
            assert b.kind in ("commercial", "village"), b.name
            continue
        assert b.kind == "residential"
        assert compounds.geometry[b.compound].covers(b.geometry), b.name
        assert b.name.startswith(compounds.name[b.compound])
        assert compounds.name[b.compound] in b.address


def test_units_tile_their_building(demo: Demo) -> None:
    units = demo.gdf["units"].groupby("building")
    metric_units = demo.m["units"].groupby("building")
    for b, bm in zip(demo.gdf["buildings"].itertuples(), demo.m["buildings"].itertuples()):
        parts = units.get_group(b.code)
        assert list(parts.number) == [str(n) for n in range(1, len(parts) + 1)], b.name
        union = shapely.union_all(list(parts.geometry))
        assert union.hausdorff_distance(b.geometry) < 1e-9, b.name
        assert union.symmetric_difference(b.geometry).area < 1e-15, b.name
        metric = list(metric_units.get_group(b.code).geometry)
        assert sum(u.area for u in metric) == pytest.approx(bm.geometry.area, abs=1e-4)
        for u, v in itertools.combinations(metric, 2):
            assert u.intersection(v).area < 1e-6, b.name


def test_unit_counts_and_households_follow_the_building(demo: Demo) -> None:
    units = demo.gdf["units"].groupby("building")
    for b in demo.m["buildings"].itertuples():
        parts = units.get_group(b.code)
        xy = list(b.geometry.minimum_rotated_rectangle.exterior.coords)
        sides = sorted(shapely.Point(xy[i]).distance(shapely.Point(xy[i + 1])) for i in range(2))
        slab = sides[1] > 2 * sides[0]
        allowed = {"village": {1}, "commercial": {1, 2}}.get(b.kind, {2, 3, 4} if slab else {1, 2})
        assert len(parts) in allowed, b.name
        assert parts.households.sum() == b.households, b.name
        for households in parts.households:
            assert households % b.floors == 0 and 2 <= households // b.floors <= 4, b.name


# --- compounds, partners, categories --------------------------------------------
def test_compounds_and_their_property_companies(committed: Demo) -> None:
    compounds = committed.gdf["compounds"]
    departments = committed.gdf["departments"].set_index("code")
    assert {"南湖中央花园", "丽景小区"} <= set(compounds.name) and len(compounds) == 4
    assert list(compounds[compounds.owners_committee.astype(bool)].name) == ["南湖中央花园"]
    companies = set(departments[departments.kind == "property_company"].name)
    assert companies == {"丽景万达物业", "国泰物业"}
    assert {departments.name[c] for c in compounds.property_company} == companies
    community = committed.m["community"].geometry.iloc[0]
    assert committed.m["compounds"].geometry.within(community).all()


def test_only_the_traffic_police_have_a_jurisdiction_covering_part_of_the_community(
    committed: Demo,
) -> None:
    departments = committed.gdf["departments"]
    assert set(departments.kind) == {
        "urban_management",
        "traffic_police",
        "sanitation",
        "tobacco",
        "property_company",
    }
    with_area = departments[departments.geometry.notna()]
    assert list(with_area.kind) == ["traffic_police"]
    area = with_area.to_crs(committed.utm_crs).geometry.iloc[0]
    community = committed.m["community"].geometry.iloc[0]
    assert area.within(community.buffer(0.05))  # 5 cm: snapping in the generator
    assert 0.05 < area.area / community.area < 0.6


def test_categories_point_at_real_departments_and_teams(committed: Demo) -> None:
    departments = set(committed.gdf["departments"].code)
    by_code = {c["code"]: c for c in committed.categories}
    assert len(by_code) == len(committed.categories) >= 12
    for c in committed.categories:
        assert set(c) == {
            "code",
            "name_zh",
            "name_en",
            "response_hours",
            "resolution_hours",
            "departments",
            "volunteer_team",
            "is_property",
        }
        assert 0 < c["response_hours"] <= c["resolution_hours"]
        assert set(c["departments"]) <= departments
        assert c["volunteer_team"] in (None, "red", "blue", "green", "orange", "white")
    assert by_code["property"]["is_property"] and by_code["property"]["name_zh"] == "物业纠纷"
    assert by_code["elderly_help"]["volunteer_team"] == "orange"
    assert by_code["medical_help"]["volunteer_team"] == "white"
    assert "traffic_police" in by_code["parking"]["departments"]
    assert "tobacco" in by_code["tobacco_minors"]["departments"]


# --- staff ----------------------------------------------------------------------
def test_every_grid_has_its_full_1_1_1_n_team(demo: Demo) -> None:
    roles: dict[tuple, list[str]] = defaultdict(list)
    volunteers: dict[str, list[str]] = defaultdict(list)
    for row in demo.staff:
        key = row["grid"] or row["building"]
        roles[(row["role"], key, row["unit"])].append(row["code"])
        if row["role"] == "volunteer":
            volunteers[row["grid"]].append(row["team"])
    for grid in demo.gdf["grids"].code:
        assert len(roles[("grid_worker", grid, "")]) == 1, grid
        assert len(roles[("part_time_worker", grid, "")]) == 1, grid
        assert len(volunteers[grid]) >= 3, grid
    for b in demo.gdf["buildings"].code:
        assert len(roles[("building_head", b, "")]) == 1, b
    for u in demo.gdf["units"].itertuples():
        assert len(roles[("unit_head", u.building, u.number)]) == 1, (u.building, u.number)
    assert set(itertools.chain(*volunteers.values())) == {"red", "blue", "green", "orange", "white"}
    expected = 2 * len(demo.gdf["grids"]) + len(demo.gdf["buildings"]) + len(demo.gdf["units"])
    assert len(demo.staff) == expected + sum(len(v) for v in volunteers.values())


def test_staff_rows_are_well_formed(demo: Demo) -> None:
    grids, buildings = set(demo.gdf["grids"].code), set(demo.gdf["buildings"].code)
    people: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for row in demo.staff:
        assert list(row) == [
            "code",
            "name",
            "phone",
            "role",
            "grid",
            "building",
            "unit",
            "team",
            "on_duty",
        ]
        assert re.fullmatch(r"1[358]\d{9}", row["phone"]) and 2 <= len(row["name"]) <= 3
        assert row["on_duty"] in ("true", "false")
        people[row["code"]].add((row["name"], row["phone"], row["on_duty"]))
        if row["role"] in ("grid_worker", "part_time_worker", "volunteer"):
            assert row["grid"] in grids and not row["building"] and not row["unit"]
            assert bool(row["team"]) == (row["role"] == "volunteer")
        else:
            assert row["role"] in ("building_head", "unit_head") and not row["grid"]
            assert row["building"] in buildings and not row["team"]
            assert bool(row["unit"]) == (row["role"] == "unit_head")
    assert all(len(v) == 1 for v in people.values()), "a person's details differ between roles"
    names = [next(iter(v))[0] for v in people.values()]
    phones = [next(iter(v))[1] for v in people.values()]
    assert len(set(names)) == len(names) and len(set(phones)) == len(phones)
    off = [code for code, v in people.items() if next(iter(v))[2] == "false"]
    assert 1 <= len(off) <= 2
    roles_held = Counter(row["code"] for row in demo.staff)
    assert max(roles_held.values()) >= 2, "some building head should also be a unit head"
