"""Routing whole CSV, XLSX and GeoJSON files: every row back, in order, with its columns."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from gridgis.config import PROJECT_ROOT
from gridgis.errors import InvalidFile, InvalidInput
from gridgis.routing.files import (
    ROUTING_COLUMNS,
    route_file,
    route_table,
    write_table,
)
from gridgis.routing.reading import TooManyRows, more_rows_than, read_geojson
from gridgis.spreadsheets import safe_cell
from tests.support.routing_city import AFTER

#: Five work orders in GB18030 with 经度/纬度 columns; tests/gridgis/shapes imports the same file.
HOTLINE_GB18030 = Path(__file__).resolve().parents[2] / "data" / "tables" / "hotline_gb18030.csv"
HOTLINE_SAMPLE = PROJECT_ROOT.parent / "shared" / "data" / "hotline" / "12345-sample.csv"

MESSY_CSV = (
    "\ufeffid,Complaint,Amount,Longitude,Latitude,cat\r\n"
    '1,"Car on the\npavement","1,234",114.30105,30.50105,parking\r\n'
    "2,Noise,12,,,\r\n"
    '3,Rubbish,"2,000",abc,30.5,\r\n'
    "4,Far away,7,114.40,30.60,\r\n"
    "5,Gap,8,114.30505,30.508,medical\r\n"
).encode("utf-8")


def parse(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_messy_real_world_csv_keeps_every_row_and_column(db_session: Session, city) -> None:
    table = route_table(db_session, MESSY_CSV, "messy.csv", category_field="cat", at=AFTER)
    rows = parse(write_table(table))
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[0]["Complaint"] == "Car on the\npavement"  # quoted newline survives
    assert rows[0]["Amount"] == "1,234"  # thousands separator untouched
    assert list(rows[0])[:6] == ["id", "Complaint", "Amount", "Longitude", "Latitude", "cat"]
    assert set(ROUTING_COLUMNS) <= set(rows[0])
    assert [r["rule"] for r in rows] == [
        "unit",
        "invalid_location",
        "invalid_location",
        "outside_coverage",
        "nearest_grid",
    ]
    assert rows[0]["grid_code"] == "A" and rows[0]["departments"] == "CG;JJ"
    assert rows[1]["reason"] == "no coordinates"
    assert "unparsable coordinates in Longitude/Latitude: 'abc'" in rows[2]["reason"]
    assert table.summary()["invalid_location"] == 2


def test_names_and_phones_never_reach_the_output(db_session: Session, city) -> None:
    out = write_table(route_table(db_session, MESSY_CSV, "messy.csv", at=AFTER)).decode()
    assert "王网格" not in out and "13800000001" not in out
    assert "grid_worker:GW" in out


def test_geojson_in_geojson_out(db_session: Session, city) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [114.3003, 30.508]},
                "properties": {"ref": "a"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[114.3, 30.5], [114.31, 30.51]]},
                "properties": {"ref": "b"},
            },
            {"type": "Feature", "geometry": None, "properties": {"ref": "c"}},
        ],
    }
    table = route_table(db_session, json.dumps(doc).encode(), "in.geojson", at=AFTER)
    out = json.loads(write_table(table))
    props = [f["properties"] for f in out["features"]]
    assert [p["ref"] for p in props] == ["a", "b", "c"]
    assert [p["rule"] for p in props] == ["grid", "invalid_location", "invalid_location"]
    assert "LineString" in props[1]["reason"]


def test_columns_that_cannot_be_found_are_named(db_session: Session, city) -> None:
    with pytest.raises(InvalidInput, match="--lon-field and --lat-field"):
        route_table(db_session, b"a,b\n1,2\n", "x.csv")
    with pytest.raises(InvalidInput, match="no column 'east'"):
        route_table(db_session, b"a,b\n1,2\n", "x.csv", lon_field="east", lat_field="b")


@pytest.mark.parametrize(
    "data, message",
    [(b"", "empty"), (b"  \n", "empty"), (b'{"type": "FeatureCollection", "feat', "not valid")],
)
def test_empty_and_truncated_files(db_session: Session, city, data: bytes, message: str) -> None:
    source = "x.geojson" if data.startswith(b"{") else "x.csv"
    with pytest.raises(InvalidFile, match=message):
        route_table(db_session, data, source)


def test_gcj02_file_routes_like_its_wgs84_twin(db_session: Session, city) -> None:
    from gridgis.geo.crs import wgs84_to_gcj02

    points = [(114.30105, 30.50105), (114.3049, 30.502), (114.3051, 30.502), (114.30505, 30.508)]
    wgs = "lon,lat\n" + "".join(f"{x},{y}\n" for x, y in points)
    gcj = "lon,lat\n" + "".join("{},{}\n".format(*wgs84_to_gcj02(x, y)) for x, y in points)
    a = route_table(db_session, wgs.encode(), "w.csv", at=AFTER)
    b = route_table(db_session, gcj.encode(), "g.csv", crs="gcj02", at=AFTER)
    assert (
        [r.grid_code for r in a.results] == [r.grid_code for r in b.results] == ["A", "A", "B", "A"]
    )


def test_cli_route_prints_a_summary(scratch_database_url: str, tmp_path: Path) -> None:
    from gridgis.cli import main

    src = tmp_path / "in.csv"
    src.write_bytes(b"lon,lat\n114.3,30.5\n,\n")
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["route", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Routed 2 rows" in result.output
    assert "outside_coverage" in result.output and "invalid_location" in result.output
    assert len(parse(out.read_bytes())) == 2


def test_cli_route_refuses_a_time_without_zone(scratch_database_url: str, tmp_path: Path) -> None:
    from gridgis.cli import main

    src = tmp_path / "in.csv"
    src.write_bytes(b"lon,lat\n114.3,30.5\n")
    result = CliRunner().invoke(
        main, ["route", str(src), "--out", str(tmp_path / "o.csv"), "--at", "2026-01-01T00:00:00"]
    )
    assert result.exit_code == 1
    assert "needs a time zone" in result.output


def test_gb18030_file_with_jingdu_weidu_routes(db_session: Session, city) -> None:
    data = HOTLINE_GB18030.read_bytes()
    table = route_table(db_session, data, "hotline_gb18030.csv", category_field="类别", at=AFTER)
    assert [r.rule for r in table.results] == [
        "unit",
        "grid",
        "grid",
        "nearest_grid",
        "outside_coverage",
    ]
    assert [r.grid_code for r in table.results] == ["A", "A", "B", "A", None]
    out = write_table(table)
    assert not out.startswith(b"\xef\xbb\xbf")  # UTF-8 without BOM, as before
    rows = parse(out)
    assert list(rows[0])[:8] == [
        "工单编号",
        "受理时间",
        "诉求内容",
        "事发地址",
        "经度",
        "纬度",
        "坐标系",
        "类别",
    ]
    assert [r["工单编号"] for r in rows] == ["T1", "T2", "T3", "T4", "T5"]
    assert rows[0]["诉求内容"] == "车辆停在人行道上，\r\n堵住单元门"
    assert rows[1]["诉求内容"] == "𠮷女士反映楼道灯坏了"
    assert (rows[0]["unit_number"], rows[0]["departments"]) == ("1", "CG;JJ")


def _workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "工单"
    for row in (
        ["编号", "诉求内容", "Longitude", "Latitude", "cat", "备注"],
        [1, "车辆占道", 114.30105, 30.50105, "parking", None],
        [2, "没有坐标", None, None, None, "=1+1"],
        [],  # an empty sheet row is no row
        [3, "路上", 114.30505, 30.508, "medical", "#N/A"],
        [4, "远处", "东经114度", 30.6, None, None],
    ):
        ws.append(row)
    ws["F3"].data_type = "s"  # text that looks like a formula, as a user may type it
    book.save(path)
    return path


def _values(path: Path) -> list[list[object]]:
    """The cells as Excel shows them (data_only: a formula would show as None, never run)."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return [list(row) for row in book.active.values]
    finally:
        book.close()


def test_xlsx_routes_to_xlsx_and_csv_keeping_every_row(
    db_session: Session, city, tmp_path: Path
) -> None:
    source = _workbook(tmp_path / "工单.xlsx")
    table = route_file(db_session, source, tmp_path / "out.xlsx", category_field="cat", at=AFTER)
    assert table.routed.column("rule").to_pylist() == [
        "unit",
        "invalid_location",
        "nearest_grid",
        "invalid_location",
    ]
    rows = _values(tmp_path / "out.xlsx")
    header, body = rows[0], rows[1:]
    assert header == ["编号", "诉求内容", "Longitude", "Latitude", "cat", "备注", *ROUTING_COLUMNS]
    assert [r[:6] for r in body] == [
        ["1", "车辆占道", "114.30105", "30.50105", "parking", None],
        ["2", "没有坐标", None, None, None, "=1+1"],  # text, not a formula
        ["3", "路上", "114.30505", "30.508", "medical", "#N/A"],
        ["4", "远处", "东经114度", "30.6", None, None],
    ]
    values = [dict(zip(header, r)) for r in body]
    assert [v["grid_code"] for v in values] == ["A", None, "A", None]
    assert values[1]["reason"] == "no coordinates"
    assert "unparsable coordinates in Longitude/Latitude: '东经114度'" in values[3]["reason"]
    route_file(db_session, source, tmp_path / "out.csv", at=AFTER)
    csv_rows = parse((tmp_path / "out.csv").read_bytes())
    assert [r["编号"] for r in csv_rows] == ["1", "2", "3", "4"]
    assert [r["rule"] for r in csv_rows] == table.routed.column("rule").to_pylist()


def test_output_kind_must_fit_the_input(db_session: Session, city, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"lon,lat\n114.3,30.5\n")
    with pytest.raises(
        InvalidInput, match=r"a table is written as a table; use a \.csv or \.xlsx name"
    ):
        route_file(db_session, source, tmp_path / "out.geojson", at=AFTER)


def test_xlsx_output_refuses_what_a_cell_cannot_hold(
    db_session: Session, city, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"lon,lat,note\n114.3,30.5,bell\x07\n")
    out = tmp_path / "out.xlsx"
    with pytest.raises(InvalidInput) as caught:
        route_file(db_session, source, out, at=AFTER)
    assert caught.value.user_msg.startswith(f"{out}: row 1, column 'note' holds text an .xlsx")
    assert "use a .csv name instead" in caught.value.user_msg
    route_file(db_session, source, tmp_path / "out.csv", at=AFTER)  # CSV holds it
    assert parse((tmp_path / "out.csv").read_bytes())[0]["note"] == "bell\x07"


def test_a_row_with_more_cells_than_the_header_is_refused(db_session: Session, city) -> None:
    with pytest.raises(InvalidFile) as caught:
        route_table(db_session, b"lon,lat\n114.3,30.5\n114,3,30,5\n", "in.csv")
    assert caught.value.details == [
        "row 2 (line 3): 4 cells but the header has 2 columns (a comma inside a value needs quotes)"
    ]


def test_cli_routes_an_xlsx(scratch_database_url: str, tmp_path: Path) -> None:
    from gridgis.cli import main

    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(
        main, ["route", str(_workbook(tmp_path / "in.xlsx")), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Routed 4 rows" in result.output
    assert len(_values(out)) == 5


def test_the_12345_hotline_export_routes_every_row(db_session: Session, city) -> None:
    if not HOTLINE_SAMPLE.exists():
        pytest.skip(
            f"the hotline sample {HOTLINE_SAMPLE} is absent (../shared is not beside this checkout)"
        )
    table = route_table(
        db_session, HOTLINE_SAMPLE.read_bytes(), str(HOTLINE_SAMPLE), crs="gcj02", at=AFTER
    )
    assert len(table.rows) == len(table.results) == 240
    assert table.columns[8:11] == ["经度", "纬度", "坐标系"]
    rules = {row["工单编号"]: r for row, r in zip(table.rows, table.results)}
    for order in ("20261101010003", "20261101010007", "20261101010011"):
        assert (rules[order].rule, rules[order].reason) == ("invalid_location", "no coordinates")
    assert rules["20261101010015"].rule == "invalid_location"  # (1143.4, 305.1)


# --- the row limit (issue 8, item 8) ----------------------------------------------


def table_bytes(rows: list[str], *, newline: str = "\n") -> bytes:
    return newline.join(["ref,lon,lat", *rows, ""]).encode()


@pytest.mark.parametrize("kind", ["csv", "geojson"])
def test_a_batch_holds_at_most_max_rows(db_session: Session, city, kind: str) -> None:
    def data(n: int) -> tuple[bytes, str]:
        if kind == "csv":
            return table_bytes([f"{i},114.3003,30.508" for i in range(n)]), "in.csv"
        point = {"type": "Point", "coordinates": [114.3003, 30.508]}
        features = [{"type": "Feature", "properties": {}, "geometry": point}] * n
        return json.dumps({"type": "FeatureCollection", "features": features}).encode(), "in.json"

    assert len(route_table(db_session, *data(3), at=AFTER, max_rows=3).results) == 3
    with pytest.raises(TooManyRows) as caught:
        route_table(db_session, *data(4), at=AFTER, max_rows=3)
    assert caught.value.http_status == 413
    assert caught.value.user_msg == (
        f"{data(4)[1]} has more than 3 rows; one batch routes at most 3. "
        "Split the file into parts of at most 3 rows and route each part."
    )


def test_reading_stops_at_the_first_row_past_the_limit(db_session: Session, city) -> None:
    """What follows the limit is never read: a broken tail is not even noticed."""
    tail = b'{"type": "Feature", "geometry": nonsense'
    head = b'{"type": "FeatureCollection", "features": [{}, {}, {}, '
    with pytest.raises(TooManyRows):
        route_table(db_session, head + tail, "in.geojson", max_rows=2)
    with pytest.raises(InvalidFile, match="not valid GeoJSON"):
        route_table(db_session, head + tail, "in.geojson", max_rows=5)
    broken = table_bytes(["1,2,3", "4,5,6", "7,8,9", '"never closed,1,2'])
    with pytest.raises(TooManyRows):
        route_table(db_session, broken, "in.csv", max_rows=2)
    with pytest.raises(InvalidFile, match="not a well-formed CSV file"):
        route_table(db_session, broken, "in.csv", max_rows=5)


JSON_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
)
JSON_DOC = st.recursive(
    JSON_SCALAR | st.sampled_from(["type", "features", "FeatureCollection"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["type", "features", "properties", "x"]), inner, max_size=3
        )
    ),
    max_leaves=10,
)
COLLECTION = st.fixed_dictionaries(
    {"type": st.just("FeatureCollection"), "features": st.lists(JSON_DOC, max_size=4)},
    optional={"name": JSON_DOC, "bbox": JSON_DOC},
)


@settings(max_examples=300, deadline=None)
@given(doc=st.one_of(COLLECTION, JSON_DOC), indent=st.sampled_from([None, 0, 2]))
@example(doc={"type": "FeatureCollection", "features": [{"properties": False}]}, indent=None)
@example(doc={"features": [{}], "type": "FeatureCollection", "x": [1, {"a": []}]}, indent=2)
def test_geojson_is_read_as_json_loads_reads_it(doc: object, indent: int | None) -> None:
    """Features are parsed one by one, but the document means what json.loads says."""
    data = json.dumps(doc, indent=indent).encode()
    expected = json.loads(data)
    is_collection = (
        isinstance(expected, dict)
        and expected.get("type") == "FeatureCollection"
        and isinstance(expected.get("features"), list)
    )
    try:
        _, rows, features = read_geojson(data, "in.geojson")
    except InvalidFile:
        assert not is_collection or not all(
            isinstance(f, dict) and isinstance(f.get("properties", {}), dict | None)
            for f in expected["features"]
        )
    else:
        assert is_collection and features == expected["features"]
        assert rows == [dict(f.get("properties") or {}) for f in features]


@pytest.mark.parametrize(
    "rows, newline, limit, more",
    [
        (["1,2,3"] * 3, "\n", 3, False),
        (["1,2,3"] * 4, "\n", 3, True),
        (["1,2,3"] * 4, "\r\n", 3, True),
        (["1,2,3"] * 4, "\r", 3, True),
        # Lines are not rows: quoted line breaks, empty lines...
        (['1,"a\nb\nc\nd",3', "2,x,3"], "\n", 2, False),
        (["", "1,2,3", "", "", "2,3,4", ""], "\n", 2, False),
        # ... but ",," is a row, as read_table keeps it.
        ([",,", ",,", ",,"], "\n", 2, True),
        # A quoted value after a semicolon: counted with the right delimiter too.
        (['1;"a\nb\nc";3', "2;x;3"], "\n", 2, False),
    ],
)
def test_more_rows_than_counts_rows_not_lines(
    rows: list[str], newline: str, limit: int, more: bool
) -> None:
    data = table_bytes(rows, newline=newline)
    assert more_rows_than(data, "in.csv", limit) is more


def test_more_rows_than_counts_a_workbook(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["lon", "lat"])
    for i in range(5000):
        sheet.append([114.3 + i * 1e-6, 30.5])
        sheet.append([])  # an empty sheet row is no row
    book.save(tmp_path / "big.xlsx")
    data = (tmp_path / "big.xlsx").read_bytes()
    assert more_rows_than(data, "big.xlsx", 4999)
    assert not more_rows_than(data, "big.xlsx", 5000)
    assert not more_rows_than(b"PK\x03\x04 broken", "broken.xlsx", 1)  # read_table says why


# --- CSV output runs no formula in a spreadsheet ---------------------------------


@pytest.mark.parametrize(
    "value, written",
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
        ("+86 138 0000 0000", "'+86 138 0000 0000"),
        ("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("-inf", "'-inf"),
        # Plain numbers stay numbers: a San Francisco longitude, signed, exponents.
        ("-122.4194", "-122.4194"),
        ("+30.5", "+30.5"),
        ("-5", "-5"),
        ("-.5", "-.5"),
        ("-1.5e-3", "-1.5e-3"),
        ("114.3", "114.3"),
        ("仁和路=18号", "仁和路=18号"),
        (None, ""),
        (12, "12"),
    ],
)
def test_safe_cell(value: object, written: str) -> None:
    assert safe_cell(value) == written


def test_routed_csv_is_guarded_header_and_all(db_session: Session, city) -> None:
    data = b"=cmd,lon,lat\n=1+1,-122.4194,37.7749\n@x,114.3003,30.508\n"
    rows = list(
        csv.reader(io.StringIO(write_table(route_table(db_session, data, "in.csv")).decode()))
    )
    assert rows[0][:3] == ["'=cmd", "lon", "lat"]
    assert [r[:3] for r in rows[1:]] == [
        ["'=1+1", "-122.4194", "37.7749"],
        ["'@x", "114.3003", "30.508"],
    ]
