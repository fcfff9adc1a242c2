"""``gridgis layout undo | redo | lock | unlock | log``: what they print, exit codes, the grids."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.cli.common import cli_actor
from tests.gridgis.planning.worlds import NOW
from tests.support.cli import count, gridgis
from tests.support.sample_community import (
    COMMUNITY_CODE,
    GRID_CODES,
    LAYOUT_NOW,
    build_sample_community,
)

G1, G2, G3 = GRID_CODES
G4 = "420106001002004"
C = ("--community", COMMUNITY_CODE)


@pytest.fixture
def url(scratch_database_url: str) -> Iterator[str]:
    """The sample community committed in a database of the test's own, with a draft ``p``."""
    engine = sa.create_engine(scratch_database_url)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
    engine.dispose()
    with clock.frozen(NOW):
        assert gridgis("layout", "draft", *C, "--name", "p").exit_code == 0
        yield scratch_database_url


def grids(url: str, layout: str = "p") -> dict[str, bytes]:
    """Code -> EWKB as stored, of the grids of ``layout``."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = {
            code: bytes(wkb)
            for code, wkb in connection.execute(
                sa.text(
                    "SELECT g.code, ST_AsEWKB(g.geom) FROM grid g JOIN layout l "
                    "ON l.id = g.layout_id WHERE l.name = :name"
                ),
                {"name": layout},
            )
        }
    engine.dispose()
    return found


def ok(*args: str) -> str:
    result = gridgis("layout", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def refused(*args: str) -> str:
    result = gridgis("layout", *args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    return result.stderr


def test_assign_undo_redo_and_the_log(url: str) -> None:
    start = grids(url)
    ok("assign", "p", *C, "--buildings", "B05", "--to", G2)
    painted = grids(url)
    ok("assign", "p", *C, "--buildings", "B04", "--to", G4, "--new-name", "第四网格")
    assert ok("undo", "p", *C) == (
        f"Undid edit 2 of layout 'p' of community {COMMUNITY_CODE}: B04 → {G4} (new grid), "
        f"18 households; {G3} removed.\n"
        f"Grids written: {G3}.\n"
        f"Grids removed from the draft: {G4}.\n"
    )
    assert grids(url) == painted
    assert ok("undo", "p", *C) == (
        f"Undid edit 1 of layout 'p' of community {COMMUNITY_CODE}: B05 → {G2}, "
        "20 households.\n"
        f"Grids written: {G2}, {G3}.\n"
    )
    assert grids(url) == start
    assert ok("redo", "p", *C).startswith("Redid edit 1 of layout 'p' ")
    assert grids(url) == painted
    title, header, *rows = ok("log", "p", *C).splitlines()
    assert title == (
        f"Edits of layout 'p' of community {COMMUNITY_CODE}, newest first (undo: yes, redo: yes):"
    )
    assert header.split() == ["seq", "when", "who", "what", "undone"]
    who = cli_actor().audit_name
    # The time in Beijing: NOW is 02:00 UTC.
    assert [re.split(r"\s{2,}", row.strip()) for row in rows] == [
        ["2", "2026-12-03 10:00", who, f"B04 → {G4} (new grid), 18 households; {G3} removed",
         "undone"],
        ["1", "2026-12-03 10:00", who, f"B05 → {G2}, 20 households"],
    ]  # fmt: skip
    check = gridgis("layout", "check", "p", *C)
    assert check.exit_code == 0, check.output
    assert count(url, "SELECT count(*) FROM audit_log WHERE action IN ('undo', 'redo')") == 3


def test_nothing_to_undo_or_redo(url: str) -> None:
    where = f"the layout 'p' of community {COMMUNITY_CODE}"
    assert (
        refused("undo", "p", *C) == f"Error: Nothing to undo: {where} has no edit left to undo.\n"
    )
    assert refused("redo", "p", *C) == (
        f"Error: Nothing to redo: {where} has no undone edit to redo (a new edit drops the "
        "undone ones).\n"
    )
    assert ok("log", "p", *C) == f"Layout 'p' of community {COMMUNITY_CODE} has no edits yet.\n"


def test_a_new_assign_drops_what_could_be_redone(url: str) -> None:
    ok("assign", "p", *C, "--buildings", "B05", "--to", G2)
    ok("undo", "p", *C)
    ok("assign", "p", *C, "--buildings", "B04", "--to", G2)
    assert "Nothing to redo" in refused("redo", "p", *C)
    assert [line.split()[0] for line in ok("log", "p", *C).splitlines()[2:]] == ["2"]


def test_a_locked_grid_is_left_alone_until_unlocked(url: str) -> None:
    where = f"grid {G3} of layout 'p' of community {COMMUNITY_CODE}"
    assert ok("lock", "p", *C, "--grid", G3) == (
        f"Locked {where}: painting, undo and redo leave it as it is until it is unlocked.\n"
    )
    assert ok("lock", "p", *C, "--grid", G3) == f"The {where} was already locked.\n"
    before = grids(url)
    assert refused("assign", "p", *C, "--buildings", "B05", "--to", G2) == (
        f"Error: Grid {G3} is locked; unlock it first (gridgis layout unlock p --community "
        f"{COMMUNITY_CODE} --grid {G3}).\n"
    )
    assert "is locked" in refused("assign", "p", *C, "--buildings", "B03", "--to", G3)
    assert grids(url) == before
    assert count(url, "SELECT count(*) FROM layout_edit") == 0
    assert ok("unlock", "p", *C, "--grid", G3) == f"Unlocked {where}: it can be painted again.\n"
    ok("assign", "p", *C, "--buildings", "B05", "--to", G2)
    assert grids(url) != before
    assert count(url, "SELECT count(*) FROM audit_log WHERE action IN ('lock', 'unlock')") == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("undo", LAYOUT_NOW),
            f"The layout '{LAYOUT_NOW}' of community {COMMUNITY_CODE} is published; only a "
            "draft's grids can be undone or redone. Copy the layout in force with `gridgis "
            f"layout draft --community {COMMUNITY_CODE}` and edit that.",
        ),
        (
            ("lock", LAYOUT_NOW, "--grid", G1),
            f"The layout '{LAYOUT_NOW}' of community {COMMUNITY_CODE} is published; only a "
            "draft's grids can be locked or unlocked.",
        ),
        (
            ("unlock", "p", "--grid", G4),
            f"The layout 'p' of community {COMMUNITY_CODE} has no grid '{G4}'; its grids are: "
            f"{G1}, {G2}, {G3}.",
        ),
        (("log", "nope"), "has no layout named 'nope'"),
    ],
)
def test_refusals_say_what_to_fix_and_change_nothing(
    url: str, args: tuple[str, ...], message: str
) -> None:
    before = {name: grids(url, name) for name in ("p", LAYOUT_NOW)}
    assert message in refused(args[0], args[1], *C, *args[2:])
    assert {name: grids(url, name) for name in before} == before
    assert count(url, "SELECT count(*) FROM audit_log WHERE action IN ('lock', 'unlock')") == 0
