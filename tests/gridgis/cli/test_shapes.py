"""``gridgis import`` / ``gridgis export``: what the commands print, and what they commit.

Each test has a database of its own (``scratch_database_url``), because the
commands commit. Real datasets from ../shared/data/real go through the same
commands at the end (skipped when ../shared is absent).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from gridgis.cli import main
from tests.support.realdata import shared_real
from tests.support.shape_files import (
    SHAPES,
    add_department,
    box,
    buildings_with_bowtie,
    counts,
    feature,
    geojson,
    unit_outside_building,
    web_mercator_buildings,
)


@pytest.fixture
def db(scratch_database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def table_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return counts(conn)


def gridgis(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def load_fixture(engine: sa.Engine, until: str = "units") -> None:
    with engine.begin() as conn:
        add_department(conn)
    for layer in ("community", "grids", "compounds", "buildings", "units"):
        extra = ("--layout", "2026版", "--publish") if layer == "grids" else ()
        result = gridgis(
            "import", layer, SHAPES / f"{layer}.geojson", "--community", "KM001", *extra
        )
        assert result.exit_code == 0, result.output
        if layer == until:
            return


def test_import_prints_the_summary_and_commits(db: sa.Engine) -> None:
    result = gridgis(
        "import",
        "grids",
        SHAPES / "grids.geojson",
        "--community",
        "KM001",
        "--layout",
        "2026版",
        "--publish",
    )
    assert result.exit_code == 0
    assert result.stdout == (
        "Imported 2 grids into community KM001.\n"
        "Created community KM001; its boundary is the union of the grids.\n"
        "Layout '2026版': published, in force from now.\n"
    )
    assert result.stderr == ""
    assert table_counts(db) | {"department": 0} == {
        "community": 1,
        "layout": 1,
        "grid": 2,
        "compound": 0,
        "building": 0,
        "unit": 0,
        "staff": 0,
        "assignment": 0,
        "department": 0,
    }


def test_staff_import_reports_people_and_roles(db: sa.Engine) -> None:
    load_fixture(db)
    result = gridgis("import", "staff", SHAPES / "staff.csv", "--community", "KM001")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Imported 7 staff with 7 assignment(s) into community KM001.\n"
        "Grid codes were looked up in layout '2026版'.\n"
    )


def test_households_import_says_what_was_added_and_updated(db: sa.Engine, tmp_path: Path) -> None:
    load_fixture(db)
    path = tmp_path / "households.csv"
    path.write_text(
        "户编码,楼栋,单元,房号,户主,电话,关爱标记\n"
        "B1-1-101,B1,1,101,刘桂英,13900001111,孤寡老人\n"
        "B2-0-101,B2,,101,陈建国,,\n",
        encoding="utf-8",
    )
    first = gridgis("import", "households", path, "--community", "KM001")
    assert first.exit_code == 0, first.output
    assert first.stdout == "Imported 2 households into community KM001: 2 added, 0 updated.\n"
    again = gridgis("import", "households", path, "--community", "KM001")
    assert again.stdout == "Imported 2 households into community KM001: 0 added, 2 updated.\n"
    path.write_text("户编码,楼栋,单元\nB3-9-101,B3,9\n", encoding="utf-8")
    bad = gridgis("import", "households", path, "--community", "KM001")
    assert bad.exit_code == 1
    assert "row 1 (line 2): building 'B3' has no unit '9'" in bad.stderr
    with db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM household")) == 2


def _bad_files(tmp: Path) -> dict[str, tuple[str, Path, list[str]]]:
    return {
        "bow tie": (
            "buildings",
            buildings_with_bowtie(tmp / "bowtie.geojson"),
            [
                "1 feature(s) have invalid geometry; correct them in the source, or pass --fix",
                "  - feature 2: Self-intersection[102.7046 25.0686]",
            ],
        ),
        "web mercator": (
            "buildings",
            web_mercator_buildings(tmp / "m.geojson", declare=False),
            [
                (
                    "coordinates such as (12735000, 3570000) are not longitude/latitude; the file "
                    "declares no CRS — pass --crs EPSG:XXXX"
                ),
            ],
        ),
        "unit outside": (
            "units",
            unit_outside_building(tmp / "u.geojson"),
            [
                "1 problem(s) found, so no units were imported",
                "  - feature 2: unit '2' lies outside building 'B1'",
            ],
        ),
    }


@pytest.mark.parametrize("case", ["bow tie", "web mercator", "unit outside"])
def test_refused_import_prints_the_error_and_changes_nothing(
    db: sa.Engine, tmp_path: Path, case: str
) -> None:
    load_fixture(db, until="buildings")
    layer, path, lines = _bad_files(tmp_path)[case]
    before = table_counts(db)
    result = gridgis("import", layer, path, "--community", "KM001")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {path}")
    for line in lines:
        assert line in result.stderr
    assert "Traceback" not in result.output
    assert table_counts(db) == before


def test_fix_repairs_and_says_so(db: sa.Engine, tmp_path: Path) -> None:
    path = buildings_with_bowtie(tmp_path / "bowtie.geojson")
    result = gridgis("import", "buildings", path, "--community", "KM001", "--fix")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "Imported 3 buildings into community KM001.",
        "Created community KM001; its boundary is the convex hull of the buildings.",
        "Repaired (1):",
    ]
    assert lines[3].startswith("  - feature 2: Self-intersection[102.7046 25.0686] repaired; area ")


def test_database_clash_is_an_error_not_a_traceback(db: sa.Engine) -> None:
    load_fixture(db, until="buildings")
    before = table_counts(db)
    result = gridgis("import", "buildings", SHAPES / "buildings.geojson", "--community", "KM001")
    assert result.exit_code == 1
    assert "feature 1: building code 'B1' is already used in community KM001" in result.stderr
    assert table_counts(db) == before


def test_long_files_show_progress_on_stderr(db: sa.Engine, tmp_path: Path) -> None:
    features = [
        feature(
            {"code": f"P{i}"},
            box(
                102.7 + (i % 40) * 1e-4,
                25.06 + (i // 40) * 1e-4,
                102.70005 + (i % 40) * 1e-4,
                25.06005 + (i // 40) * 1e-4,
            ),
        )
        for i in range(1200)
    ]
    result = gridgis(
        "import", "buildings", geojson(tmp_path / "many.geojson", features), "--community", "P"
    )
    assert result.exit_code == 0
    assert "Importing" in result.stderr
    assert result.stdout.startswith("Imported 1200 buildings into community P.")


def test_export_prints_what_it_wrote_and_imports_back(db: sa.Engine, tmp_path: Path) -> None:
    load_fixture(db)
    result = gridgis("export", "buildings", tmp_path / "b.gpkg", "--community", "KM001")
    assert result.exit_code == 0
    assert result.stdout == f"Exported 4 buildings of community KM001 to {tmp_path / 'b.gpkg'}.\n"
    for layer, out in (("compounds", "c.csv"), ("buildings", "b.gpkg"), ("units", "u.shp")):
        if layer != "buildings":
            assert gridgis("export", layer, tmp_path / out, "--community", "KM001").exit_code == 0
        result = gridgis("import", layer, tmp_path / out, "--community", "KM002")
        assert result.exit_code == 0, result.output
    assert result.stdout == "Imported 3 units into community KM002.\n"


def test_usage_errors(db: sa.Engine, tmp_path: Path) -> None:
    result = gridgis("import", "roads", SHAPES / "grids.geojson", "--community", "X")
    assert result.exit_code == 2 and "'roads' is not one of 'community', 'grids'" in result.stderr
    result = gridgis("export", "grids", tmp_path / "g.geojson", "--community", "X")
    assert result.exit_code == 1 and result.stderr == "Error: No community with code 'X'.\n"
    load_fixture(db, until="grids")
    result = gridgis("export", "grids", tmp_path / "g.kml", "--community", "KM001")
    assert result.stderr.startswith(f"Error: {tmp_path / 'g.kml'}: unknown extension '.kml'")


# --- real data -------------------------------------------------------------------------


@pytest.mark.realdata
def test_nyc_community_districts_as_a_published_layout(db: sa.Engine, tmp_path: Path) -> None:
    path = shared_real("nyc-districts-dwillis/community_districts.geojson")
    result = gridgis(
        "import",
        "grids",
        path,
        "--community",
        "NYC",
        "--code-field",
        "BoroCD",
        "--layout",
        "2013",
        "--publish",
    )
    assert result.exit_code == 0, result.output
    # The districts are valid as GEOS sees them: no --fix needed, nothing repaired.
    assert result.stdout == (
        "Imported 71 grids into community NYC.\n"
        "Created community NYC; its boundary is the union of the grids.\n"
        "Layout '2013': published, in force from now.\n"
    )
    with db.connect() as conn:
        codes = set(conn.scalars(sa.text("SELECT code FROM grid")))
    assert {"101", "311", "595"} <= codes and len(codes) == 71
    out = tmp_path / "districts.gpkg"
    assert gridgis("export", "grids", out, "--community", "NYC").exit_code == 0
    result = gridgis("import", "grids", out, "--community", "NYC2", "--layout", "copy")
    assert result.exit_code == 0 and result.stdout.startswith("Imported 71 grids")
    with db.connect() as conn:
        unequal = conn.scalar(
            sa.text(
                "SELECT count(*) FROM grid a JOIN grid b ON a.code = b.code AND a.id < b.id "
                "WHERE NOT ST_Equals(a.geom, b.geom)"
            )
        )
    assert unequal == 0


REAL_BUILDINGS = [
    # (dataset, extra options, features, what the summary must say, export format)
    ("osm-buildings-lucca/osm_buildings.geojson", ["--fix"], 2503, "Repaired (3):", "shp"),
    (
        "overture-buildings-utrecht/buildings.geojson",
        [],
        3754,
        "so the features were numbered 1 to 3754 in file order",
        "gpkg",
    ),
    (
        "nyc-buildings-lowermanhattan/nyc_buildings.geojson",
        ["--fix", "--code-field", "fid"],
        1206,
        "Repaired (1):\n  - feature 578: Self-intersection",
        "csv",
    ),
]


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("dataset", "options", "n", "said", "fmt"),
    REAL_BUILDINGS,
    ids=[r[0].split("/")[0] for r in REAL_BUILDINGS],
)
def test_real_buildings_import_and_export(
    db: sa.Engine, tmp_path: Path, dataset: str, options: list[str], n: int, said: str, fmt: str
) -> None:
    path = shared_real(dataset)
    if "--fix" in options:
        refused = gridgis(
            "import",
            "buildings",
            path,
            "--community",
            "REAL",
            *[o for o in options if o != "--fix"],
        )
        assert refused.exit_code == 1 and "pass --fix to repair them" in refused.stderr
        assert table_counts(db)["building"] == 0
    result = gridgis("import", "buildings", path, "--community", "REAL", *options)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Imported {n} buildings into community REAL.")
    assert said in result.stdout
    out = tmp_path / f"buildings.{fmt}"
    exported = gridgis("export", "buildings", out, "--community", "REAL")
    assert exported.stdout == f"Exported {n} buildings of community REAL to {out}.\n"
    again = gridgis("import", "buildings", out, "--community", "COPY")
    assert again.exit_code == 0, again.output
    assert "Repaired" not in again.stdout  # what went in valid comes back valid
    with db.connect() as conn:
        same = conn.scalar(
            sa.text(
                "SELECT count(*) FROM building a JOIN building b ON a.code = b.code "
                "AND a.community_id < b.community_id WHERE ST_Equals(a.geom, b.geom)"
            )
        )
    assert same == n
