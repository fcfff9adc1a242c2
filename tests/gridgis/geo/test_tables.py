"""Reading table files (gridgis.geo.tables): CSV text in any encoding Chinese offices save,
XLSX workbooks, and the columns that hold coordinates.

Every file is written for real into tmp_path; what is asserted is what a user
would see: the cells, the row names, the error text.
"""

from __future__ import annotations

import codecs
import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from gridgis.config import PROJECT_ROOT
from gridgis.errors import InvalidFile, InvalidInput
from gridgis.geo.tables import Table, coordinate_columns, pick_column, read_table

HOTLINE = PROJECT_ROOT.parent / "shared" / "data" / "hotline" / "12345-sample.csv"
TEXT = "编号,名称,经度,纬度\n1,金色年华1栋,102.7015,25.0615\n2,翠苑小区,102.7125,25.0617\n"


def write(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def refused(source: Path | bytes, label: str | None = None) -> InvalidFile:
    with pytest.raises(InvalidFile) as caught:
        read_table(source, label)
    return caught.value


# --- encodings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "source"),
    [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 with BOM"), ("gb18030", "GB18030")],
)
def test_utf8_bom_and_gb18030_read_alike(tmp_path: Path, encoding: str, source: str) -> None:
    table = read_table(write(tmp_path / "t.csv", TEXT, encoding))
    assert table.source == source
    assert table.header == ["编号", "名称", "经度", "纬度"]  # no BOM glued to the first name
    assert table.rows == [
        ["1", "金色年华1栋", "102.7015", "25.0615"],
        ["2", "翠苑小区", "102.7125", "25.0617"],
    ]
    assert table.labels == ["row 1 (line 2)", "row 2 (line 3)"]


def test_gb18030_four_byte_characters_survive(tmp_path: Path) -> None:
    # 𠮷 is outside GBK: only a real GB18030 decode gets it back.
    table = read_table(write(tmp_path / "t.csv", "姓名,备注\n𠮷女士,䶮\n", "gb18030"))
    assert table.rows == [["𠮷女士", "䶮"]]


def test_latin1_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = write(tmp_path / "latin1.csv", "name,city\nJosé,Köln\n", "latin-1")
    error = refused(path)
    assert error.user_msg.startswith(
        f"{path} is neither UTF-8 nor GB18030 text (byte 0xe9 on line 2 fits neither); "
        "save it from Excel or WPS as 'CSV UTF-8' or as .xlsx"
    )
    assert "iconv -f latin1 -t utf-8" in error.user_msg


def test_utf16_is_refused_by_name(tmp_path: Path) -> None:
    path = write(tmp_path / "unicode.txt", codecs.BOM_UTF16_LE + "a\tb\n1\t2\n".encode("utf-16-le"))
    assert refused(path).user_msg.startswith(
        f"{path} is neither UTF-8 nor GB18030 text (byte 0xff on line 1 fits neither; "
        "it is UTF-16, saved as Unicode Text); save it from Excel or WPS as 'CSV UTF-8'"
    )


def test_broken_utf8_after_a_bom_is_not_taken_for_gb18030(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", codecs.BOM_UTF8 + b"a,b\n1,\xff\n")
    assert "byte 0xff on line 2" in refused(path).user_msg


# --- dialects and cells ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("semicolon.csv", 'code;wkt;lon\nA;"POINT (1 1)";114,5\nB;"LINESTRING (1 1, 2 2)";114,6\n'),
        ("tab.txt", "code\twkt\tlon\nA\tPOINT (1 1)\t114,5\nB\tLINESTRING (1 1, 2 2)\t114,6\n"),
        ("pipe.csv", "code|wkt|lon\nA|POINT (1 1)|114,5\nB|LINESTRING (1 1, 2 2)|114,6\n"),
        ("forced.tsv", "code\twkt\tlon\nA\tPOINT (1 1)\t114,5\nB\tLINESTRING (1 1, 2 2)\t114,6\n"),
    ],
)
def test_delimiter_is_sniffed(tmp_path: Path, name: str, text: str) -> None:
    table = read_table(write(tmp_path / name, text))
    assert table.header == ["code", "wkt", "lon"]
    assert table.rows == [["A", "POINT (1 1)", "114,5"], ["B", "LINESTRING (1 1, 2 2)", "114,6"]]


def test_one_column_file_reads(tmp_path: Path) -> None:
    assert read_table(write(tmp_path / "codes.csv", "code\nA\nB\n")).rows == [["A"], ["B"]]


def test_quoted_newline_doubled_quotes_and_crlf(tmp_path: Path) -> None:
    text = 'id,note\r\n1,"第一行\r\n第二行"\r\n2,"他说""好"""\r\n3,plain\r\n'
    table = read_table(write(tmp_path / "t.csv", text))
    assert table.rows == [["1", "第一行\r\n第二行"], ["2", '他说"好"'], ["3", "plain"]]
    assert table.labels == ["row 1 (line 2)", "row 2 (line 4)", "row 3 (line 5)"]


def test_long_cells_are_read_whole(tmp_path: Path) -> None:
    ring = ", ".join(f"{102.7 + i * 1e-6:.6f} 25.06" for i in range(20_000))
    wkt = f"POLYGON (({ring}, 102.700000 25.06))"
    assert len(wkt) > 300_000  # beyond csv's default field limit of 128 KiB
    table = read_table(write(tmp_path / "t.csv", f'code,wkt\nA,"{wkt}"\n'))
    assert table.rows[0][1] == wkt


def test_blank_rows_are_skipped_unless_kept_and_rows_keep_their_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "\nlon,lat\n114.3,30.5\n\n,\n114.4,30.6\n")
    assert read_table(path).labels == ["row 1 (line 3)", "row 3 (line 6)"]
    kept = read_table(path, keep_blank_rows=True)
    assert kept.rows == [["114.3", "30.5"], ["", ""], ["114.4", "30.6"]]
    assert kept.labels == ["row 1 (line 3)", "row 2 (line 5)", "row 3 (line 6)"]


def test_short_rows_are_padded_and_empty_trailing_columns_dropped(tmp_path: Path) -> None:
    # Excel writes the used range: trailing commas under a header with empty names.
    path = write(tmp_path / "t.csv", "a,b,,\n1,,,\n2\n3,4,,\n")
    table = read_table(path)
    assert table.header == ["a", "b"]
    assert table.rows == [["1", ""], ["2", ""], ["3", "4"]]


def test_bytes_with_a_label(tmp_path: Path) -> None:
    table = read_table(TEXT.encode("gb18030"), "upload.csv")
    assert (table.label, table.source, len(table.rows)) == ("upload.csv", "GB18030", 2)
    assert table.records()[0] == {
        "编号": "1",
        "名称": "金色年华1栋",
        "经度": "102.7015",
        "纬度": "25.0615",
    }


# --- header and row problems ------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message", "details"),
    [
        (b"", "t.csv is empty.", []),
        (b" \r\n\n", "t.csv is empty.", []),
        (b"code,wkt\n", "t.csv has a header but no rows.", []),
        (b"code,wkt\n\n,\n", "t.csv has a header but no rows.", []),
        (
            b"code,,wkt\nA,1,POINT (1 1)\n",
            "t.csv cannot be read as a table.",
            ["header: column 2 has no name"],
        ),
        (
            b"code,name,code\nA,a,B\n",
            "t.csv cannot be read as a table.",
            ["header: column(s) code appear more than once"],
        ),
        (
            b"code,lon,lat\nA,1,2\nB,114,3,30,5\n",
            "t.csv cannot be read as a table.",
            [
                "row 2 (line 3): 5 cells but the header has 3 columns "
                "(a comma inside a value needs quotes)"
            ],
        ),
        (
            b"code,lon,\nA,1,2\n",
            "t.csv cannot be read as a table.",
            ["header: column 3 has no name, but row 1 (line 2) has a value in it"],
        ),
        (
            b'code,note\nA,"never closed\nB,b\n',
            "t.csv is not a well-formed CSV file: lines 2-3: unexpected end of data; "
            'a quoted value must end with a quote, and a quote inside it is written twice ("").',
            [],
        ),
        (
            b'code,note\nA,"quoted" then not\n',
            "t.csv is not a well-formed CSV file: line 2: ',' expected after '\"'; "
            'a quoted value must end with a quote, and a quote inside it is written twice ("").',
            [],
        ),
    ],
)
def test_bad_tables_are_named_with_file_and_row(
    tmp_path: Path, content: bytes, message: str, details: list[str]
) -> None:
    error = refused(write(tmp_path / "t.csv", content))
    assert error.user_msg == f"{tmp_path}/{message}"
    assert error.details == details


def test_every_bad_row_is_listed_and_the_list_capped(tmp_path: Path) -> None:
    rows = "".join(f"{i},1,2,3\n" for i in range(150))
    error = refused(write(tmp_path / "t.csv", "code,lon\n" + rows))
    assert error.details[0] == (
        "row 1 (line 2): 4 cells but the header has 2 columns (a comma inside a value needs quotes)"
    )
    assert len(error.details) == 101 and error.details[-1] == "... and 50 more"


# --- XLSX ---------------------------------------------------------------------------


def test_xlsx_values_become_the_text_a_person_sees(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "工单.xlsx",
        {
            "工单": [
                ["工单编号", "受理时间", "诉求内容", "经度", "纬度", "户数", "已办结", "备注"],
                [
                    20261101010000,
                    dt.datetime(2026, 11, 1, 17, 54, 51),
                    "门前六包没有落实",
                    114.348112,
                    30.505045,
                    12.0,
                    True,
                    None,
                ],
                [],
                ["20261101010001", dt.date(2026, 11, 2), None, 1 / 3, -30.5, 7, False, "好"],
            ],
            "说明": [["这一页不读"]],
        },
    )
    table = read_table(path)
    assert table.source == "XLSX sheet '工单'"
    assert table.header[:3] == ["工单编号", "受理时间", "诉求内容"]
    assert table.rows == [
        [
            "20261101010000",
            "2026-11-01T17:54:51",
            "门前六包没有落实",
            "114.348112",
            "30.505045",
            "12",
            "TRUE",
            "",
        ],
        ["20261101010001", "2026-11-02", "", "0.3333333333333333", "-30.5", "7", "FALSE", "好"],
    ]
    # The empty sheet row is no row; the sheet's own row number says where to look.
    assert table.labels == ["row 1 (sheet 工单, row 2)", "row 2 (sheet 工单, row 4)"]


def test_xlsx_from_bytes_is_recognised_by_content(tmp_path: Path) -> None:
    data = workbook(tmp_path / "a.xlsx", {"Sheet": [["lon", "lat"], [114.3, 30.5]]}).read_bytes()
    assert read_table(data, "body.csv").rows == [["114.3", "30.5"]]


def test_xlsx_problems_name_the_sheet_row_and_column(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "b.xlsx",
        {"楼栋": [["code", "code", None], ["A", "B", None], ["C", "D", "stray"]]},
    )
    error = refused(path)
    assert error.user_msg == f"{path} cannot be read as a table."
    assert error.details == [
        "header: column C has no name, but row 2 (sheet 楼栋, row 3) has a value in it",
        "header: column(s) code appear more than once",
    ]


def test_xlsx_with_an_empty_first_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = workbook(tmp_path / "c.xlsx", {"封面": [], "工单": [["lon", "lat"], [1, 2]]})
    assert refused(path).user_msg == (
        f"{path} is empty. Only its first sheet is read; its sheets are: 封面, 工单."
    )
    path = workbook(tmp_path / "d.xlsx", {"工单": [["lon", "lat"]]})
    assert refused(path).user_msg == f"{path} has a header but no rows."


def test_not_a_workbook_and_old_xls_are_refused(tmp_path: Path) -> None:
    fake = write(tmp_path / "fake.xlsx", "lon,lat\n1,2\n")
    assert refused(fake).user_msg.startswith(
        f"{fake} cannot be read as an Excel workbook (.xlsx): "
    )
    assert "save it again as .xlsx" in refused(fake).user_msg
    old = write(tmp_path / "old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    assert refused(old).user_msg == (
        f"{old} is an old-style Excel .xls (or a password-protected) workbook; save it from "
        "Excel or WPS as .xlsx or as 'CSV UTF-8' and use that."
    )


# --- columns ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (["id", "lon", "lat"], ("lon", "lat")),
        (["id", "LNG", "Lat"], ("LNG", "Lat")),
        (["id", " Longitude ", "LATITUDE"], (" Longitude ", "LATITUDE")),
        (["id", "long", "lat"], ("long", "lat")),
        (["id", "经度", "纬度", "坐标系"], ("经度", "纬度")),
        (["X", "Y"], ("X", "Y")),
        (["x", "y", "lon", "lat"], ("lon", "lat")),  # x/y may be metres: names win
        (["id", "east", "north"], (None, None)),
    ],
)
def test_coordinate_columns_by_name(header: list[str], expected: tuple[str, str]) -> None:
    assert coordinate_columns(header) == expected


def test_given_column_names_override_and_missing_ones_are_named() -> None:
    header = ["east", "north", "lon", "lat"]
    assert coordinate_columns(header, lon="east", lat="NORTH") == ("east", "north")
    with pytest.raises(InvalidInput) as caught:
        coordinate_columns(header, lon="经 度", label="in.csv")
    assert caught.value.user_msg == (
        "in.csv: there is no column '经 度' for the longitude; "
        "the columns are: east, north, lon, lat."
    )
    assert pick_column(["WKT", "code"], ("wkt", "geometry")) == "WKT"


def test_coordinates_of_a_gb18030_file_with_chinese_names(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "t.csv", TEXT, "gb18030"))
    lon, lat = coordinate_columns(table.header)
    assert [(r[lon], r[lat]) for r in table.records()] == [
        ("102.7015", "25.0615"),
        ("102.7125", "25.0617"),
    ]


# --- the hotline export -------------------------------------------------------------


@pytest.fixture
def hotline() -> Path:
    if not HOTLINE.exists():
        pytest.skip(
            f"the hotline sample {HOTLINE} is absent (../shared is not beside this checkout)"
        )
    return HOTLINE


def test_the_12345_hotline_export_reads(hotline: Path) -> None:
    table: Table = read_table(hotline)
    assert table.source == "GB18030"
    assert table.header == [
        "工单编号", "受理时间", "来电人", "联系电话", "诉求类型", "问题分类", "诉求内容",
        "事发地址", "经度", "纬度", "坐标系", "办理时限", "工单状态",
    ]  # fmt: skip
    assert len(table.rows) == 240
    assert coordinate_columns(table.header) == ("经度", "纬度")
    orders = {r["工单编号"]: r for r in table.records()}
    first = orders["20261101010000"]
    assert (first["经度"], first["纬度"], first["坐标系"]) == ("114.348112", "30.505045", "GCJ-02")
    assert first["问题分类"] == "市容环境>门前责任区"
    assert (orders["20261101010011"]["经度"], orders["20261101010011"]["事发地址"]) == ("", "")
    assert table.labels[-1] == "row 240 (line 241)"
