"""No CSV cell we write runs as a formula, and what we write reads back exactly."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.models import Building
from gridgis.shapes.exporting import export_layer
from gridgis.shapes.importing import import_layer
from gridgis.spreadsheets import safe_cell, unescape_cell
from tests.support import factories as make
from tests.support.actors import TESTS
from tests.support.factories import box

FORMULA = '=HYPERLINK("http://evil.example/","点我")'


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (FORMULA, "'" + FORMULA),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
        ("\tTAB", "'\tTAB"),
        ("-122.4194", "-122.4194"),  # a longitude stays a number
        ("+86", "+86"),
        ("1e-5", "1e-5"),
        ("南湖路1号", "南湖路1号"),
        (None, ""),
    ],
)
def test_cells_are_guarded_and_read_back(value: str | None, written: str) -> None:
    assert safe_cell(value) == written
    assert unescape_cell(written) == ("" if value is None else value)


def test_a_quote_the_user_wrote_stays(tmp_path: Path) -> None:
    assert unescape_cell("'quoted'") == "'quoted'"


def test_an_exported_formula_like_name_imports_back_exactly(
    db_session: Session, tmp_path: Path
) -> None:
    source = make.community(db_session, "SRC", box(114.30, 30.50, 114.31, 30.51))
    make.building(db_session, source, "B1", box(114.301, 30.501, 114.302, 30.502), name=FORMULA)
    out = tmp_path / "buildings.csv"
    export_layer(db_session, "buildings", out, community_code="SRC", actor=TESTS)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["name"] == "'" + FORMULA  # what a spreadsheet shows: text, not a link
    import_layer(db_session, "buildings", out, community_code="DST", actor=TESTS)
    names = db_session.scalars(sa.select(Building.name).where(Building.code == "B1")).all()
    assert names == [FORMULA, FORMULA]
