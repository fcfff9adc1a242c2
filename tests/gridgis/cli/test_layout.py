"""``gridgis layout``: list, draft, show and check, what they print and their exit codes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.cli import main
from tests.gridgis.planning.worlds import NOW
from tests.support import factories as make
from tests.support.factories import box
from tests.support.sample_community import (
    COMMUNITY_CODE,
    GRID_CODES,
    LAYOUT_NOW,
    build_sample_community,
)

G1, G2, G3 = GRID_CODES


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
            grids={
                G1: box(114.300, 30.590, 114.302, 30.594),
                G2: box(114.3021, 30.590, 114.304, 30.594),
                G3: box(114.304, 30.590, 114.306, 30.594),
            },
        )
    engine.dispose()
    with clock.frozen(NOW):
        yield scratch_database_url


def gridgis(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def count(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = int(connection.execute(sa.text(sql)).scalar_one())
    engine.dispose()
    return found


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
