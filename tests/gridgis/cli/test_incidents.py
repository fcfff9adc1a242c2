"""``gridgis incidents import``: what it prints, what it stores, and when it refuses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.cli import main
from gridgis.demo.loader import load_demo
from tests.conftest import DATA_DIR
from tests.support.actors import TESTS

SAMPLE = DATA_DIR / "hotline" / "12345-sample.csv"
HEADER = "工单编号,受理时间,来电人,联系电话,诉求类型,问题分类,诉求内容,事发地址,经度,纬度,坐标系"


@pytest.fixture
def demo_url(scratch_database_url: str) -> Iterator[str]:
    """A database of the test's own with the demo, loaded before the sample's days."""
    engine = sa.create_engine(scratch_database_url)
    loaded = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    with clock.frozen(loaded), Session(engine) as session, session.begin():
        load_demo(session, actor=TESTS)
    with clock.frozen(dt.datetime(2026, 11, 10, tzinfo=dt.UTC)):
        yield scratch_database_url
    engine.dispose()


def gridgis(*args: str) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def incidents(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = connection.execute(sa.text("SELECT count(*) FROM incident")).scalar_one()
    engine.dispose()
    return int(found)


def test_the_sample_goes_in_once_and_the_summary_says_so(demo_url: str) -> None:
    first = gridgis("incidents", "import", SAMPLE)
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert lines[0] == f"{SAMPLE} (GB18030): 240 work orders, channel hotline_12345."
    assert lines[1:5] == [
        "  taken in            236  (2 located by address)",
        "    unclassified        1  (for a dispatcher to classify)",
        "  already there         0",
        "  refused               4",
    ]
    assert "Rows kept out:" in first.stdout
    assert "row 24 (line 25) 20261101010023: time not readable" in first.stdout
    assert incidents(demo_url) == 236
    again = gridgis("incidents", "import", SAMPLE)
    assert again.exit_code == 0, again.output
    assert "  already there       236  (imported before: not added again)" in again.stdout
    assert incidents(demo_url) == 236
    engine = sa.create_engine(demo_url)
    with engine.connect() as connection:
        actors = connection.execute(
            sa.text("SELECT DISTINCT actor FROM audit_log WHERE entity = 'incidents'")
        ).scalars()
        assert [a.startswith("cli:") for a in actors] == [True]
    engine.dispose()


def test_a_file_of_only_bad_rows_exits_1_and_stores_nothing(demo_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{HEADER}\nGD1,2026-11-01 10:00,,,,,,,,,\n", encoding="utf-8")
    result = gridgis("incidents", "import", bad)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {bad}: none of its 1 work orders can be taken in; nothing was imported.\n"
        "  - row 1 (line 2) GD1: no location at all: Give the incident's place: lon and lat, "
        "or an address.\n"
    )
    assert incidents(demo_url) == 0


def test_options_reach_the_import(demo_url: str, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"交通管理": "parking"}', encoding="utf-8")
    wgs = tmp_path / "wgs.csv"
    wgs.write_text(
        f"{HEADER}\nP1,2026-11-01 10:00,,,,交通管理>乱停车,,,114.3426158,30.5074145,\n",
        encoding="utf-8",
    )
    result = gridgis(
        "incidents", "import", wgs, "--crs", "EPSG:4326", "--mapping", mapping, "--channel", "phone"
    )
    assert result.exit_code == 0, result.output
    assert "channel phone" in result.stdout and "坐标系: EPSG:4326 1" in result.stdout
    engine = sa.create_engine(demo_url)
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT i.channel, c.code, i.input_crs FROM incident i "
                "JOIN category c ON c.id = i.category_id"
            )
        ).one()
    engine.dispose()
    assert tuple(row) == ("phone", "parking", "EPSG:4326")
    wrong = gridgis("incidents", "import", wgs, "--channel", "fax")
    assert wrong.exit_code == 2 and "'fax' is not one of" in wrong.output


def test_a_long_file_shows_its_progress_on_stderr(demo_url: str, tmp_path: Path) -> None:
    rows = [
        f"L{n},2026-11-01 10:00,,,,,,,{114.3481 + n * 1e-7:.7f},30.505045,GCJ-02"
        for n in range(1000)
    ]
    long = tmp_path / "long.csv"
    long.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    result = gridgis("incidents", "import", long)
    assert result.exit_code == 0, result.output
    assert "Importing" in result.stderr and "Importing" not in result.stdout
    assert "taken in           1000" in result.stdout
