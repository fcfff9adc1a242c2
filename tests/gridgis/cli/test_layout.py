"""``gridgis layout``: list, draft, show, check, diff and export: what they print, exit codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.models import Community
from tests.gridgis.planning.worlds import GAPPY, NOW
from tests.support import factories as make
from tests.support.cli import count, gridgis
from tests.support.factories import box
from tests.support.sample_community import (
    COMMUNITY_CODE,
    GRID_CODES,
    LAYOUT_NOW,
    build_sample_community,
)

G1, G2, G3 = GRID_CODES
G4 = "420106001002004"


@pytest.fixture
def sample_url(scratch_database_url: str) -> Iterator[str]:
    """The sample community committed in a database of the test's own, with a broken draft."""
    engine = sa.create_engine(scratch_database_url)
    with Session(engine) as session, session.begin():
        sample = build_sample_community(session)
        # A gap between the first two columns (0.0001° wide).
        make.layout(
            session,
            sample.community,
            "gappy",
            grids=GAPPY,
        )
    engine.dispose()
    with clock.frozen(NOW):
        yield scratch_database_url


@pytest.fixture
def moved_url(sample_url: str) -> str:
    """The sample with a draft ``split`` whose new grid G4, the north of G3, takes B05."""
    engine = sa.create_engine(sample_url)
    with Session(engine) as session, session.begin():
        found = session.scalars(sa.select(Community).where(Community.code == COMMUNITY_CODE)).one()
        make.layout(
            session,
            found,
            "split",
            grids={
                G1: (box(114.300, 30.590, 114.302, 30.594), "第一网格"),
                G2: (box(114.302, 30.590, 114.304, 30.594), "第二网格"),
                G3: (box(114.304, 30.590, 114.306, 30.592), "第三网格"),
                G4: (box(114.304, 30.592, 114.306, 30.594), "第四网格"),
            },
        )
    engine.dispose()
    return sample_url


def test_list(sample_url: str) -> None:
    result = gridgis("layout", "list", "--community", COMMUNITY_CODE)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Layouts of community {COMMUNITY_CODE} (南湖花园社区):\n"
        "name      standing  valid from        valid to          grids\n"
        "2024版    past      2024-01-01 08:00  2025-01-01 08:00      2\n"
        "2025版    in force  2025-01-01 08:00  -                     3\n"
        "2027草案  draft     -                 -                     1\n"
        "gappy     draft     -                 -                     3\n"
    )


def test_draft_prints_the_new_name_and_routing_stays(sample_url: str) -> None:
    result = gridgis("layout", "draft", "--community", COMMUNITY_CODE)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Created draft layout 'draft 2026-12-03 10:00' of community {COMMUNITY_CODE} "
        f"from '{LAYOUT_NOW}': 3 grids, 4 grid team assignments.\n"
        f"It is not in force: routing still uses '{LAYOUT_NOW}'.\n"
    )
    named = gridgis("layout", "draft", "--community", COMMUNITY_CODE, "--name", "2027 redraw")
    assert named.exit_code == 0 and "'2027 redraw'" in named.stdout
    listed = gridgis("layout", "list", "--community", COMMUNITY_CODE).stdout
    assert "draft 2026-12-03 10:00  draft" in listed and "2027 redraw" in listed
    assert "2025版                  in force" in listed
    assert count(sample_url, "SELECT count(*) FROM audit_log WHERE action = 'draft'") == 2


def test_show_prints_the_tallies(sample_url: str) -> None:
    result = gridgis("layout", "show", LAYOUT_NOW, "--community", COMMUNITY_CODE)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"Layout '{LAYOUT_NOW}' of community {COMMUNITY_CODE} (in force): 3 grids; "
        "household band 300-500."
    )
    assert lines[1].startswith(f"Note: community {COMMUNITY_CODE} sets no household band")
    assert lines[2].split() == [
        "code", "name", "households", "vs", "band", "units", "buildings", "staff", "open",
        "90", "days", "parts", "compactness", "area", "m²", "split", "compounds",
    ]  # fmt: skip
    assert [line.split() for line in lines[3:6]] == [
        [G1, "第一网格", "60", "-240", "2", "2", "6", "0", "0", "1", "0.66", "85,061", "XQ01"],
        [G2, "第二网格", "30", "-270", "2", "1", "0", "0", "0", "1", "0.66", "85,061", "XQ01"],
        [G3, "第三网格", "38", "-262", "0", "2", "0", "0", "0", "1", "0.66", "85,061", "-"],
    ]
    assert lines[6:] == ["Total: 128 households in 5 buildings."]


def test_check_exits_0_with_warnings_only(sample_url: str) -> None:
    result = gridgis("layout", "check", LAYOUT_NOW, "--community", COMMUNITY_CODE)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"Layout '{LAYOUT_NOW}' of community {COMMUNITY_CODE}: 0 error(s), 3 warning(s).",
        f"warning: outside_band: grid {G1} has 60 households, 240 below the band 300-500 "
        "[bbox 114.300000,30.590000,114.302000,30.594000]",
        f"warning: outside_band: grid {G2} has 30 households, 270 below the band 300-500 "
        "[bbox 114.302000,30.590000,114.304000,30.594000]",
        f"warning: outside_band: grid {G3} has 38 households, 262 below the band 300-500 "
        "[bbox 114.304000,30.590000,114.306000,30.594000]",
    ]


def test_check_exits_1_on_errors(sample_url: str) -> None:
    result = gridgis("layout", "check", "gappy", "--community", COMMUNITY_CODE)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Layout 'gappy' of community {COMMUNITY_CODE}: 1 error(s), 3 warning(s)."
    assert lines[1] == (
        f"error: gap: 4,253.1 m² of the community lie in no grid beside grid(s) {G1}, {G2} "
        "[at 114.302050,30.592000; bbox 114.302000,30.590000,114.302100,30.594000]"
    )
    assert [line.split(":")[:2] for line in lines[2:]] == [["warning", " outside_band"]] * 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("layout", "list", "--community", "nowhere"),
            f"Error: No community with code 'nowhere'; the communities are: {COMMUNITY_CODE}.",
        ),
        (
            ("layout", "show", "nope", "--community", COMMUNITY_CODE),
            f"Error: Community {COMMUNITY_CODE} has no layout named 'nope'; its layouts are: "
            "'2024版', '2025版', '2027草案', 'gappy'.",
        ),
        (
            ("layout", "check", "nope", "--community", COMMUNITY_CODE),
            f"Error: Community {COMMUNITY_CODE} has no layout named 'nope'; its layouts are: "
            "'2024版', '2025版', '2027草案', 'gappy'.",
        ),
        (
            ("layout", "draft", "--community", COMMUNITY_CODE, "--name", "gappy"),
            f"Error: Community {COMMUNITY_CODE} already has a layout named 'gappy'; its layouts "
            "are: '2024版', '2025版', '2027草案', 'gappy'.",
        ),
        (
            ("layout", "draft", "--community", "nowhere"),
            f"Error: No community with code 'nowhere'; the communities are: {COMMUNITY_CODE}.",
        ),
        (
            ("layout", "diff", "nope", "--community", COMMUNITY_CODE),
            f"Error: Community {COMMUNITY_CODE} has no layout named 'nope'; its layouts are: "
            "'2024版', '2025版', '2027草案', 'gappy'.",
        ),
        (
            ("layout", "diff", "gappy", "--community", COMMUNITY_CODE, "--against", "nope"),
            f"Error: Community {COMMUNITY_CODE} has no layout named 'nope'; its layouts are: "
            "'2024版', '2025版', '2027草案', 'gappy'.",
        ),
        (
            ("layout", "diff", "gappy", "--community", "nowhere"),
            f"Error: No community with code 'nowhere'; the communities are: {COMMUNITY_CODE}.",
        ),
        (
            ("layout", "export", "nope", "--community", COMMUNITY_CODE, "out.gpkg"),
            f"Error: Community {COMMUNITY_CODE} has no layout named 'nope'; its layouts are: "
            "'2024版', '2025版', '2027草案', 'gappy'.",
        ),
        (
            ("layout", "export", "gappy", "--community", COMMUNITY_CODE, "out.shp"),
            "Error: out.shp: a layout exports to a GeoPackage; give a file name ending in .gpkg "
            "(not '.shp').",
        ),
        (
            ("layout", "diff", "gappy", "--community", COMMUNITY_CODE, "--out", "no/where.csv"),
            "Error: no/where.csv: the folder no does not exist.",
        ),
    ],
)
def test_errors_say_what_exists_and_change_nothing(
    sample_url: str, args: tuple[str, ...], message: str
) -> None:
    layouts = count(sample_url, "SELECT count(*) FROM layout")
    grids = count(sample_url, "SELECT count(*) FROM grid")
    result = gridgis(*args)
    assert result.exit_code == 1
    assert result.stderr == message + "\n" and result.stdout == ""
    assert count(sample_url, "SELECT count(*) FROM layout") == layouts
    assert count(sample_url, "SELECT count(*) FROM grid") == grids
    assert count(sample_url, "SELECT count(*) FROM audit_log WHERE action = 'draft'") == 0


def test_diff_as_text(moved_url: str) -> None:
    result = gridgis("layout", "diff", "split", "--community", COMMUNITY_CODE)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Layout 'split' of community {COMMUNITY_CODE} against '{LAYOUT_NOW}': 1 building(s), "
        "0 unit(s) and 20 household(s) change grid.\n"
        "\n"
        "building  name  units  households  from             to\n"
        f"B05       5栋       0          20  {G3}  {G4}\n"
        "\n"
        "grid             name      change     buildings  units  households\n"
        f"{G1}  第一网格  kept               2      2          60\n"
        f"{G2}  第二网格  kept               1      2          30\n"
        f"{G3}  第三网格  kept           2 → 1      0     38 → 18\n"
        f"{G4}  第四网格  appearing      - → 1  - → 0      - → 20\n"
    )


def test_diff_as_json(moved_url: str) -> None:
    result = gridgis("layout", "diff", "split", "--community", COMMUNITY_CODE, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["layout"], document["against"]) == ("split", LAYOUT_NOW)
    assert document["moves"] == [
        {"building": "B05", "name": "5栋", "units": 0, "households": 20, "from": G3, "to": G4}
    ]
    assert [(g["code"], g["change"]) for g in document["grids"]] == [
        (G1, "kept"),
        (G2, "kept"),
        (G3, "kept"),
        (G4, "appearing"),
    ]
    assert document["grids"][2]["before"] == {"buildings": 2, "units": 0, "households": 38}
    assert document["grids"][2]["after"] == {"buildings": 1, "units": 0, "households": 18}


def test_diff_as_csv_between_two_drafts(moved_url: str) -> None:
    # From split to gappy: G4 disappears, B05 goes back to G3.
    result = gridgis(
        "layout", "diff", "gappy", "--community", COMMUNITY_CODE, "--against", "split",
        "--format", "csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))
    assert rows == [["building", "units", "households", "from", "to"], ["B05", "0", "20", G4, G3]]


def test_diff_as_geojson_to_a_file(moved_url: str, tmp_path: Path) -> None:
    out = tmp_path / "diff.geojson"
    result = gridgis(
        "layout", "diff", "split", "--community", COMMUNITY_CODE, "--format", "geojson",
        "--out", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Wrote the diff of 'split' against '{LAYOUT_NOW}' to {out}: 1 building(s), 0 unit(s) "
        "and 20 household(s) change grid.\n"
    )
    collection = json.loads(out.read_text(encoding="utf-8"))
    [feature] = collection["features"]
    assert feature["properties"] == {
        "building": "B05",
        "name": "5栋",
        "from": G3,
        "to": G4,
        "units": 0,
        "households": 20,
    }
    assert feature["geometry"]["type"] == "MultiPolygon"
    # A GDAL reader takes it as EPSG:4326 with the building where it stands.
    read = gpd.read_file(out)
    assert read.crs.to_epsg() == 4326
    assert read.total_bounds == pytest.approx((114.3045, 30.5925, 114.3049, 30.5927))


def test_diff_of_the_layout_in_force_with_itself_moves_nothing(moved_url: str) -> None:
    result = gridgis("layout", "diff", LAYOUT_NOW, "--community", COMMUNITY_CODE)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"Layout '{LAYOUT_NOW}' of community {COMMUNITY_CODE} against '{LAYOUT_NOW}': "
        "0 building(s), 0 unit(s) and 0 household(s) change grid."
    )
    assert [line.split()[2] for line in lines[3:]] == ["kept"] * 3


def test_export(moved_url: str, tmp_path: Path) -> None:
    out = tmp_path / "split.gpkg"
    result = gridgis("layout", "export", "split", "--community", COMMUNITY_CODE, out)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Exported layout 'split' of community {COMMUNITY_CODE} to {out}: 4 grids, "
        "5 buildings, 0 edit log entries.\n"
    )
    assert [name for name, _ in pyogrio.list_layers(out)] == ["grids", "building_grid", "edit_log"]
    assert list(gpd.read_file(out, layer="grids").code) == [G1, G2, G3, G4]
    placed = gpd.read_file(out, layer="building_grid")
    assert dict(zip(placed.building, placed.grid)) == {
        "B01": G1,
        "B02": G1,
        "B03": G2,
        "B04": G3,
        "B05": G4,
    }


def test_export_of_a_draft_carries_its_edit_log(sample_url: str, tmp_path: Path) -> None:
    assert (
        gridgis("layout", "draft", "--community", COMMUNITY_CODE, "--name", "redraw").exit_code == 0
    )
    out = tmp_path / "redraw.gpkg"
    result = gridgis("layout", "export", "redraw", "--community", COMMUNITY_CODE, out)
    assert result.exit_code == 0, result.output
    log = pyogrio.read_dataframe(out, layer="edit_log")
    assert list(zip(log.action, log.entity_id)) == [("draft", f"{COMMUNITY_CODE}/redraw")]
    # When the database wrote the entry, shown in Beijing time.
    assert dt.datetime.fromisoformat(log["at"][0]).utcoffset() == dt.timedelta(hours=8)
    assert log.actor[0].startswith("cli:")


def grid_wkb(url: str, layout: str) -> dict[str, bytes]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = {
            code: bytes(wkb)
            for code, wkb in connection.execute(
                sa.text(
                    "SELECT g.code, ST_AsBinary(g.geom) FROM grid g JOIN layout l "
                    "ON l.id = g.layout_id WHERE l.name = :name"
                ),
                {"name": layout},
            )
        }
    engine.dispose()
    return found


def test_assign_prints_what_moved_and_the_tallies_of_the_grids_touched(sample_url: str) -> None:
    assert gridgis("layout", "draft", "--community", COMMUNITY_CODE, "--name", "p").exit_code == 0
    before, in_force = grid_wkb(sample_url, "p"), grid_wkb(sample_url, LAYOUT_NOW)
    result = gridgis(
        "layout", "assign", "p", "--community", COMMUNITY_CODE, "--buildings", "B04,B03",
        "--to", G2,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        f"Layout 'p' of community {COMMUNITY_CODE}: 1 building(s) with 18 household(s) "
        f"moved to grid {G2}.",
        f"  B04: {G3} → {G2} (18 households)",
        f"Already in grid {G2}: B03.",
        "code             name      households  vs band  units  buildings  parts  area m²",
    ]
    assert [line.split()[:7] for line in lines[4:]] == [
        [G2, "第二网格", "48", "-252", "2", "2", "1"],
        [G3, "第三网格", "20", "-280", "0", "1", "1"],
    ]
    after = grid_wkb(sample_url, "p")
    assert after[G1] == before[G1] and after[G3] != before[G3]
    assert grid_wkb(sample_url, LAYOUT_NOW) == in_force
    assert count(sample_url, "SELECT count(*) FROM audit_log WHERE action = 'assign'") == 1
    check = gridgis("layout", "check", "p", "--community", COMMUNITY_CODE)
    assert check.exit_code == 0, check.output


def test_assign_into_a_new_grid(sample_url: str) -> None:
    assert gridgis("layout", "draft", "--community", COMMUNITY_CODE, "--name", "p").exit_code == 0
    result = gridgis(
        "layout", "assign", "p", "--community", COMMUNITY_CODE, "--buildings", "B05",
        "--to", G4, "--new-name", "第四网格",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        f"Layout 'p' of community {COMMUNITY_CODE}: 1 building(s) with 20 household(s) "
        f"moved to grid {G4} (new grid '第四网格').",
        f"  B05: {G3} → {G4} (20 households)",
    ]
    assert [line.split()[:3] for line in lines[3:]] == [
        [G3, "第三网格", "18"],
        [G4, "第四网格", "20"],
    ]
    assert count(sample_url, "SELECT count(*) FROM grid g JOIN layout l ON l.id = g.layout_id "
                 "WHERE l.name = 'p'") == 4  # fmt: skip


def test_assign_the_last_building_of_a_grid(sample_url: str) -> None:
    assert gridgis("layout", "draft", "--community", COMMUNITY_CODE, "--name", "p").exit_code == 0
    result = gridgis(
        "layout", "assign", "p", "--community", COMMUNITY_CODE, "--buildings", "B03", "--to", G1
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1:3] == [
        f"  B03: {G2} → {G1} (30 households)",
        f"Left without buildings or land, removed from the draft: grid(s) {G2}, with 0 grid "
        "team assignment(s).",
    ]
    assert [line.split()[:6] for line in lines[4:]] == [[G1, "第一网格", "90", "-210", "4", "3"]]
    check = gridgis("layout", "check", "p", "--community", COMMUNITY_CODE)
    assert check.exit_code == 0, check.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (LAYOUT_NOW, "--buildings", "B03", "--to", G1),
            f"Error: The layout '{LAYOUT_NOW}' of community {COMMUNITY_CODE} is published; only "
            "a draft can be painted. Copy the layout in force with `gridgis layout draft "
            f"--community {COMMUNITY_CODE}` and paint that.",
        ),
        (
            ("gappy", "--buildings", "B03,B77,B88", "--to", G1),
            f"Error: Community {COMMUNITY_CODE} has no building(s) 'B77', 'B88'; nothing was "
            "assigned.",
        ),
        (
            ("gappy", "--buildings", "B03", "--to", G4),
            f"Error: The layout 'gappy' of community {COMMUNITY_CODE} has no grid '{G4}'; its "
            f"grids are: {G1}, {G2}, {G3}. Give --new-name to make a new grid with that code.",
        ),
        (
            ("gappy", "--buildings", " , ", "--to", G1),
            "Error: Give at least one building code, e.g. --buildings B001,B002.",
        ),
    ],
)
def test_assign_refusals_change_nothing(
    sample_url: str, args: tuple[str, ...], message: str
) -> None:
    grids = {name: grid_wkb(sample_url, name) for name in (LAYOUT_NOW, "gappy")}
    result = gridgis("layout", "assign", *args[:1], "--community", COMMUNITY_CODE, *args[1:])
    assert result.exit_code == 1
    assert result.stderr == message + "\n" and result.stdout == ""
    assert {name: grid_wkb(sample_url, name) for name in grids} == grids
    assert count(sample_url, "SELECT count(*) FROM audit_log WHERE action = 'assign'") == 0
