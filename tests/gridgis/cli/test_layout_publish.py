"""``gridgis layout publish``: the cut-over it prints, dry runs, refusals, publishing."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from sqlalchemy.orm import Session

from gridgis import clock
from tests.gridgis.planning.worlds import GAPPY, NOW, incident
from tests.support import factories as make
from tests.support.cli import count, gridgis
from tests.support.factories import box
from tests.support.sample_community import COMMUNITY_CODE, GRID_CODES, build_sample_community

G1, G2, G3 = GRID_CODES
G4 = "420106001002004"
START = "2027-01-01T00:00+08:00"
AFTER = dt.datetime(2027, 1, 1, 0, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture
def url(scratch_database_url: str) -> Iterator[str]:
    """The sample community committed, with a broken draft and a draft that splits G3."""
    engine = sa.create_engine(scratch_database_url)
    with Session(engine) as session, session.begin():
        sample = build_sample_community(session)
        make.layout(
            session,
            sample.community,
            "gappy",
            grids=GAPPY,
        )
        # G4, the north of G3, takes B05: 20 of G3's 38 households.
        make.layout(
            session,
            sample.community,
            "split",
            grids={
                G1: (box(114.300, 30.590, 114.302, 30.594), "第一网格"),
                G2: (box(114.302, 30.590, 114.304, 30.594), "第二网格"),
                G3: (box(114.304, 30.590, 114.306, 30.592), "第三网格"),
                G4: (box(114.304, 30.592, 114.306, 30.594), "第四网格"),
            },
        )
        # Open, routed to G3 today: B04 stays in the draft's G3, which takes the next code.
        routed = incident(session, sample, status="dispatched", days_ago=1, building="B04")
        routed.grid_id = next(g.id for g in sample.grids if g.code == G3)
        incident(session, sample, status="closed", days_ago=1, building="B04")
    engine.dispose()
    with clock.frozen(NOW):
        yield scratch_database_url


def publish(*extra: str) -> Result:
    return gridgis(
        "layout", "publish", "split", "--community", COMMUNITY_CODE, "--from", START, *extra
    )


def test_a_dry_run_prints_the_cut_over_and_writes_nothing(url: str) -> None:
    entries = count(url, "SELECT count(*) FROM audit_log")
    routed = count(url, "SELECT id FROM incident WHERE status = 'dispatched'")
    result = publish("--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Cut-over of community {COMMUNITY_CODE}: 'split' replaces '2025版' "
        "from 2027-01-01 00:00.\n"
        "Grid codes (2 change):\n"
        # The factory's draft has no teams: each grid that keeps its code takes its team.
        f"  {G1}: keeps its code (100% of the households), and its grid team\n"
        f"  {G2}: keeps its code (100% of the households), and its grid team\n"
        f"  {G3} → {G4}: new grid, next free code\n"
        f"  {G4} → {G3}: inherits {G3} (53% of its households), name '第三网格', "
        "and its grid team\n"
        "Open incidents whose grid changes (1):\n"
        f"  #{routed} (dispatched): {G3} → {G4}, stays with its team\n"
        "Staff assignments that move (0):\n"
        "Staff left without a grid (0):\n"
        "Grids that disappear (0):\n"
        "Grids whose households change (2, draft codes):\n"
        f"  {G3} (kept): 38 → 18\n"
        f"  {G4} (appearing): - → 20\n"
        "Dry run: nothing was written.\n"
    )
    assert count(url, "SELECT count(*) FROM audit_log") == entries
    assert count(url, "SELECT count(*) FROM layout WHERE status = 'draft'") == 3


def test_publishing_from_a_date_replaces_the_layout_in_force_then(url: str) -> None:
    result = publish()
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(
        f"Published 'split' of community {COMMUNITY_CODE} from 2027-01-01 00:00; "
        "'2025版' ends then.\n"
    )
    listed = gridgis("layout", "list", "--community", COMMUNITY_CODE).stdout
    assert "2025版    in force  2025-01-01 08:00  2027-01-01 00:00" in listed
    assert "split     future    2027-01-01 00:00  -" in listed
    actions = "SELECT count(*) FROM audit_log WHERE action IN ('publish', 'recode')"
    assert count(url, f"{actions} AND entity_id LIKE '%/split'") == 2
    again = publish()
    assert again.exit_code == 1 and "published already" in again.stderr


def test_a_layout_with_errors_is_refused_with_its_errors(url: str) -> None:
    result = gridgis(
        "layout", "publish", "gappy", "--community", COMMUNITY_CODE, "--from", START, "--dry-run"
    )
    assert result.exit_code == 1
    assert "publishing refused:\n  gap: " in result.stdout
    assert "Not published: " in result.stderr
    assert count(url, "SELECT count(*) FROM layout WHERE status = 'draft'") == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--from", "2027-01-01T00:00"), "needs a time zone"),
        (("--from", "2026-01-01T00:00+08:00"), "is in the past"),
    ],
)
def test_refusals(url: str, extra: tuple[str, ...], message: str) -> None:
    result = publish(*extra)
    assert result.exit_code == 1 and message in result.stderr, result.output
    assert count(url, "SELECT count(*) FROM layout WHERE status = 'draft'") == 3


def test_a_dry_run_with_reroute_open_says_who_is_rerouted_at_the_date(url: str) -> None:
    routed = count(url, "SELECT id FROM incident WHERE status = 'dispatched'")
    result = publish("--dry-run", "--reroute-open")
    assert result.exit_code == 0, result.output
    assert (
        "Open incidents whose grid changes (1):\n"
        f"  #{routed} (dispatched): {G3} → {G4}, rerouted to {G4} at 2027-01-01 00:00\n"
    ) in result.stdout
    assert result.stdout.endswith("Dry run: nothing was written.\n")
    assert count(url, "SELECT count(*) FROM layout WHERE reroute_open") == 0
    assert count(url, "SELECT count(*) FROM layout WHERE status = 'draft'") == 3


def test_reroute_open_reroutes_at_the_date_when_the_worker_runs(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDGIS_MEDIA_DIR", str(tmp_path))
    routed = count(url, "SELECT id FROM incident WHERE status = 'dispatched'")
    grid_of = (
        f"SELECT count(*) FROM incident i JOIN grid g ON g.id = i.grid_id WHERE i.id = {routed}"
    )
    reroutes = "SELECT count(*) FROM incident_event WHERE action = 'reroute'"

    result = publish("--reroute-open")

    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(
        "'2025版' ends then.\n"
        "Open incidents whose grid changes are rerouted at 2027-01-01 00:00 "
        "by gridgis worker (it must be running then).\n"
    )
    assert count(url, "SELECT count(*) FROM layout WHERE reroute_open AND name = 'split'") == 1
    assert worker().exit_code == 0  # before the date: nothing due
    assert count(url, reroutes) == 0 and count(url, f"{grid_of} AND g.code = '{G3}'") == 1
    with clock.frozen(AFTER):
        ran = worker()
        assert ran.exit_code == 0, ran.output
        assert worker().exit_code == 0  # a second pass changes nothing
    assert count(url, reroutes) == 1
    assert count(url, f"{grid_of} AND g.code = '{G4}'") == 1
    assert count(url, "SELECT count(*) FROM layout WHERE rerouted_at IS NOT NULL") == 1
    assert (
        count(url, "SELECT count(*) FROM incident WHERE status = 'closed' AND grid_id IS NULL") == 1
    )


def worker() -> Result:
    level = logging.getLogger("gridgis").level
    try:
        return gridgis("worker", "--once")
    finally:
        # The command turns the package's logging up to INFO: not for the tests after it.
        logging.getLogger("gridgis").setLevel(level)


def test_from_now_is_the_next_full_minute(url: str) -> None:
    result = gridgis("layout", "publish", "split", "--community", COMMUNITY_CODE, "--from", "now")
    assert result.exit_code == 0, result.output
    start = clock.local(NOW).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    assert f"from {start:%Y-%m-%d %H:%M};" in result.stdout
    listed = gridgis("layout", "list", "--community", COMMUNITY_CODE).stdout
    assert f"split     future    {start:%Y-%m-%d %H:%M}  -" in listed
