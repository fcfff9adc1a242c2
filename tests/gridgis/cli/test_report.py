"""``gridgis report monthly``: what it prints, the CSV and XLSX it writes, and when it refuses."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl  # type: ignore[import-untyped]
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.cli import main
from tests.support.reports import NOW, add_month
from tests.support.sample_community import COMMUNITY_CODE, build_sample_community


@pytest.fixture
def month_url(scratch_database_url: str) -> Iterator[str]:
    """A database of the test's own holding the known month, read on 5 December 2026."""
    engine = sa.create_engine(scratch_database_url)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
        add_month(session)
    engine.dispose()
    with clock.frozen(NOW):
        yield scratch_database_url


def gridgis(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def exports(url: str) -> list[tuple[str, str, dict[str, object]]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT actor, entity_id, after FROM audit_log "
                "WHERE entity = 'monthly_report' ORDER BY id"
            )
        ).all()
    engine.dispose()
    return [(a, e, after) for a, e, after in rows]


def test_the_csv_holds_both_tables_and_the_definitions(month_url: str, tmp_path: Path) -> None:
    out = tmp_path / "november.csv"
    result = gridgis(
        "report", "monthly", "--community", COMMUNITY_CODE, "--month", "2026-11", "-o", out
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Wrote the monthly report of {COMMUNITY_CODE} for 2026-11 (whole month): "
        f"3 grids, 6 staff, CSV to {out}.\n"
    )
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    lines = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    notes = {row[1]: row[2:] for row in lines if row and row[0] == "#"}
    assert (
        notes["month"][0]
        == "统计月份：显示时区（默认 Asia/Shanghai）的自然月，从当月1日0时到次月1日0时。"
    )
    assert notes["as_of"] and notes["community"] == [COMMUNITY_CODE]
    assert notes["from"] == ["2026-11-01T00:00:00+08:00"]
    assert notes["to"] == ["2026-12-01T00:00:00+08:00"]
    tables = [row for row in lines if row and row[0] != "#"]
    header = tables[0]
    assert header[:8] == [
        "网格编码",
        "网格名称",
        "关爱户数",
        "应访次数",
        "已访次数",
        "走访记录",
        "从未走访户",
        "上报事件",
    ]
    g1 = dict(zip(header, tables[1]))
    assert (g1["网格编码"], g1["应访次数"], g1["已访次数"], g1["超期事件"]) == (
        "420106001002001",
        "11",
        "6",
        "1",
    )
    assert tables[4][0] == "合计" and dict(zip(header, tables[4]))["上报事件"] == "7"
    staff_header = tables[5]
    assert staff_header[:4] == ["人员编码", "姓名", "岗位", "所在网格"]
    s1 = dict(zip(staff_header, tables[6]))
    assert (s1["人员编码"], s1["姓名"], s1["岗位"], s1["办结事件"]) == (
        "S1",
        "张三",
        "专职网格员",
        "2",
    )
    ((actor, entity, after),) = exports(month_url)
    assert actor.startswith("cli:") and entity == f"{COMMUNITY_CODE}/2026-11"
    assert after["format"] == "csv" and after["staff"] == 6


def test_the_workbook_in_english_for_one_grid(month_url: str, tmp_path: Path) -> None:
    out = tmp_path / "g2.xlsx"
    result = gridgis(
        "report",
        "monthly",
        "--community",
        COMMUNITY_CODE,
        "--month",
        "2026-11",
        "--grid",
        "420106001002002",
        "--lang",
        "en",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    assert "1 grids, 0 staff, XLSX" in result.stdout
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["Grids", "Staff", "Definitions"]
    grids = [list(row) for row in book["Grids"].iter_rows(values_only=True)]
    header = grids[0]
    assert header[:3] == ["Grid", "Grid name", "Flagged households"]
    g2 = dict(zip(header, grids[1]))
    assert (g2["Grid"], g2["Visits due"], g2["Incidents overdue"], g2["Reported: Telephone"]) == (
        "420106001002002",
        5,
        1,
        1,
    )
    assert grids[2][0] == "Total"
    notes = dict(row[:2] for row in book["Definitions"].iter_rows(values_only=True) if row[0])
    assert notes["month"].startswith("A calendar month in the display time zone")
    book.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--community", "nope", "--month", "2026-11"), "No community with code 'nope'"),
        (("--community", COMMUNITY_CODE, "--month", "2026-13"), "month must be a year and a month"),
        (("--community", COMMUNITY_CODE, "--month", "2027-01"), "2027-01 has not begun yet"),
        (
            ("--community", COMMUNITY_CODE, "--month", "2026-11", "--grid", "nope"),
            "No grid 'nope'",
        ),
        (
            ("--community", COMMUNITY_CODE, "--month", "2026-11", "--format", "xlsx"),
            "ends in .csv but --format is xlsx",
        ),
    ],
)
def test_bad_options_exit_1_write_nothing_and_audit_nothing(
    month_url: str, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "report.csv"
    result = gridgis("report", "monthly", *args, "-o", out)
    assert result.exit_code == 1
    assert message in result.output
    assert not out.exists() and exports(month_url) == []
