"""``gridgis layout rebalance``: what it prints, the draft it makes, what it leaves alone.

On the sample community (B01 24, B02 36, B03 30, B04 18, B05 20 households;
G1 holds B01 and B02, G2 B03, G3 B04 and B05), committed in a database of
the test's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from tests.gridgis.planning.worlds import NOW
from tests.support.cli import gridgis
from tests.support.sample_community import (
    COMMUNITY_CODE,
    GRID_CODES,
    LAYOUT_NOW,
    build_sample_community,
)

G1, G2, G3 = GRID_CODES


@pytest.fixture
def sample_url(scratch_database_url: str) -> Iterator[str]:
    engine = sa.create_engine(scratch_database_url)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
    engine.dispose()
    with clock.frozen(NOW):
        yield scratch_database_url


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = [tuple(r) for r in connection.execute(sa.text(sql))]
    engine.dispose()
    return found


IN_FORCE_GRIDS = (
    "SELECT g.code, ST_AsText(g.geom) FROM grid g JOIN layout l ON l.id = g.layout_id "
    f"WHERE l.name = '{LAYOUT_NOW}' ORDER BY 1"
)


def test_from_scratch_every_grid_in_the_band(sample_url: str) -> None:
    kept = rows(sample_url, IN_FORCE_GRIDS)
    args = ("layout", "rebalance", LAYOUT_NOW, "--community", COMMUNITY_CODE)
    result = gridgis(*args, "--band", "20-50", "--grids", 4, "--seed", 5, "--steps", 20)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(
        f"Rebalanced layout '{LAYOUT_NOW}' of community {COMMUNITY_CODE} into draft "
        f"'{LAYOUT_NOW} rebalanced' (band 20-50, seed 5): 4 grids; "
    )
    assert "grid             name      before  vs band  after  vs band  buildings  parts" in out
    # G1 had 60 households, 10 above the band; after, every grid is in it, in one piece.
    assert re.search(rf"{G1} +\S+ +60 +\+10 +\d+ +0 +\d +1\n", out), out
    assert "Outside the band" not in out
    assert "Painted from empty: each grid is the union of its buildings' cells.\n" in out
    assert "Checks: 0 error(s)" in out
    assert out.endswith(f"It is not in force: routing still uses '{LAYOUT_NOW}'.\n")
    assert rows(sample_url, IN_FORCE_GRIDS) == kept
    drafts = rows(sample_url, "SELECT name, status FROM layout ORDER BY id")
    assert (f"{LAYOUT_NOW} rebalanced", "draft") in drafts
    # The same seed again, under another name: the same buildings in the same grids.
    again = gridgis(
        *args, "--band", "20-50", "--grids", 4, "--seed", 5, "--steps", 20, "--name", "again"
    )
    assert again.exit_code == 0, again.output
    placed = (
        "SELECT l.name, b.code, g.code FROM building b JOIN grid g "
        "ON ST_Covers(g.geom, ST_PointOnSurface(b.geom)) JOIN layout l ON l.id = g.layout_id "
        f"WHERE l.name IN ('{LAYOUT_NOW} rebalanced', 'again') ORDER BY 2, 1"
    )
    found = rows(sample_url, placed)
    first = [(b, g) for name, b, g in found if name != "again"]
    assert first == [(b, g) for name, b, g in found if name == "again"] and len(first) == 5


def test_a_building_alone_above_the_band_is_reported(sample_url: str) -> None:
    result = gridgis(
        "layout",
        "rebalance",
        LAYOUT_NOW,
        "--community",
        COMMUNITY_CODE,
        "--band",
        "10-30",
        "--steps",
        10,
        "--name",
        "tight",
    )
    assert result.exit_code == 0, result.output
    assert "Outside the band, and why:" in result.stdout
    assert "building B02 alone has 36 households, above 30" in result.stdout


def test_a_bad_band_and_a_taken_name_are_refused(sample_url: str) -> None:
    args = ("layout", "rebalance", LAYOUT_NOW, "--community", COMMUNITY_CODE)
    bad = gridgis(*args, "--band", "50-20")
    assert bad.exit_code == 1 and "LOW-HIGH" in bad.output
    taken = gridgis(*args, "--name", LAYOUT_NOW)
    assert taken.exit_code == 1 and "already has a layout named" in taken.output
    assert len(rows(sample_url, "SELECT id FROM layout")) == 3


def test_a_locked_grid_is_kept_and_named(sample_url: str) -> None:
    community = ("--community", COMMUNITY_CODE)
    assert gridgis("layout", "draft", *community, "--name", "locks").exit_code == 0
    assert gridgis("layout", "lock", "locks", *community, "--grid", G2).exit_code == 0
    args = ("layout", "rebalance", "locks", *community, "--band", "20-40", "--steps", 10)
    # G2, the middle column, cuts the rest in two: --grids counts it, so 2 is too few.
    few = gridgis(*args, "--grids", 2)
    assert few.exit_code == 1
    assert "--grids 2 counts the draft's grids, the 1 locked grid(s)" in few.output
    assert "give --grids of at least 3" in few.output
    result = gridgis(*args, "--grids", 4, "--seed", 3)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "'locks rebalanced' (band 20-40, seed 3): 4 grids;" in out
    kept = f"Kept locked, as in 'locks': {G2} (same buildings, polygon, name, team and lock)."
    assert kept in out
    assert "Painted from empty: each grid but the locked ones is the union" in out
    assert re.search(rf"{G2} +\S+ +30 +0 +30 +0 +1 +1\n", out), out
    assert "the buildings outside the locked grids fall in 2 groups" in out
    assert f"separated by {G2}:" in out and "Checks: 0 error(s)" in out
    same = rows(
        sample_url,
        "SELECT a.geom::bytea = b.geom::bytea, b.locked FROM grid a "
        "JOIN layout la ON la.id = a.layout_id AND la.name = 'locks' "
        "JOIN grid b ON b.code = a.code "
        "JOIN layout lb ON lb.id = b.layout_id AND lb.name = 'locks rebalanced' "
        f"WHERE a.code = '{G2}'",
    )
    assert same == [(True, True)]
