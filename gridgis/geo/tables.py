"""Table files: the one reader for CSV text and Excel workbooks, and their columns.

Every table gridgis reads (layers with WKT or lon/lat columns, staff, files to
route, hotline exports) comes through :func:`read_table`, and which columns hold
coordinates or WKT is decided here too: a file that routes also imports. Rows are
named as a person finds them: "row 2 (line 3)", "row 2 (sheet 工单, row 3)".

Text is UTF-8 (with or without the BOM Excel writes), else GB18030: how Excel and
12345 hotline systems on a Chinese Windows desktop save CSV (GBK is a subset).
Anything else is refused, not decoded into mojibake (though a Latin-1 file whose
accents all sit before ASCII letters is valid GB18030).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import sys
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import openpyxl  # type: ignore[import-untyped]
import pandas as pd
import shapely
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from gridgis.errors import InvalidFile, InvalidGeometry, InvalidInput, capped
from gridgis.spreadsheets import unescape_cell

WKT_COLUMNS = ("wkt", "geometry", "geom", "the_geom")
# Explicit names first: "x"/"y" may be projected metres in a file that also has lon/lat.
LON_COLUMNS = ("lon", "lng", "long", "longitude", "经度", "x")
LAT_COLUMNS = ("lat", "latitude", "纬度", "y")

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
#: The file names read_table accepts.
TABLE_SUFFIXES = TEXT_SUFFIXES + XLSX_SUFFIXES
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "'|'"}

#: Longest cell read: WKT of a detailed boundary easily passes csv's default 128 KiB.
MAX_CELL = min(sys.maxsize, 2**31 - 1)
#: A workbook unpacking to more MiB is refused (a zip bomb would exhaust memory).
MAX_XLSX_MIB = 512
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and encrypted .xlsx


@dataclass
class Table:
    """The cells of a table file, all text, under a stripped, unique, non-blank ``header``.

    ``labels`` name the rows in messages ("row 2 (line 3)"); ``source`` says how the
    file was read: "UTF-8", "UTF-8 with BOM", "GB18030" or "XLSX sheet '工单'".
    """

    label: str
    header: list[str]
    rows: list[list[str]]
    labels: list[str]
    source: str

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=self.header, dtype=object)

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.header, cells)) for cells in self.rows]


def read_table(
    source: Path | bytes, label: str | None = None, *, keep_blank_rows: bool = False
) -> Table:
    """Read a CSV/TSV text file or the first sheet of an XLSX workbook into text cells.

    Args:
        source: The file, or its bytes.
        label: The file in messages (default: the path); its suffix tells the
            format (a workbook is also recognised by its content).
        keep_blank_rows: Keep rows whose cells are all blank (",,"), as a routed
            file must give back every row; empty lines and sheet rows are never rows.

    Raises:
        InvalidFile: The file cannot be read, is not UTF-8 or GB18030 text, is empty
            or only a header, a header name is blank or repeated, or a row is too long.
    """
    label = label or (str(source) if isinstance(source, Path) else "the table")
    try:
        data = source.read_bytes() if isinstance(source, Path) else source
    except OSError as exc:
        raise InvalidFile(f"{label} cannot be read ({exc.strerror}).") from None
    suffix = Path(label).suffix.lower()
    if suffix == ".xls" or data.startswith(_OLE_MAGIC):
        raise InvalidFile(
            f"{label} is an old-style Excel .xls (or a password-protected) workbook; "
            "save it from Excel or WPS as .xlsx or as 'CSV UTF-8' and use that."
        )
    if not data.strip():
        raise InvalidFile(f"{label} is empty.")
    sheets: list[str] = []
    records: Iterable[tuple[str, list[str]]]
    if suffix in XLSX_SUFFIXES or data.startswith(_ZIP_MAGIC):
        sheets, records = _xlsx_records(data, label)
        how, delimiter = f"XLSX sheet {sheets[0]!r}", None
    else:
        text, how = _decode(data, label)
        delimiter = "\t" if suffix == ".tsv" else _delimiter(text)
        records = _text_records(text, delimiter, label)
    table = _build(label, records, delimiter, keep_blank_rows, how)
    if not table.rows:
        what = "is empty." if not table.header else "has a header but no rows."
        if len(sheets) > 1:
            what += f" Only its first sheet is read; its sheets are: {', '.join(sheets)}."
        raise InvalidFile(f"{label} {what}")
    return table


def _decode(data: bytes, label: str) -> tuple[str, str]:
    bom = data.startswith(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8-sig"), "UTF-8 with BOM" if bom else "UTF-8"
    except UnicodeDecodeError as exc:
        bad = exc.start + (len(codecs.BOM_UTF8) if bom else 0)
    if not bom:  # a BOM says UTF-8: GB18030 would only turn the damage into mojibake
        try:
            return data.decode("gb18030"), "GB18030"
        except UnicodeDecodeError:
            pass
    line = data.count(b"\n", 0, bad) + 1
    utf16 = data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    raise InvalidFile(
        f"{label} is neither UTF-8 nor GB18030 text (byte 0x{data[bad]:02x} on line {line} "
        f"fits neither{'; it is UTF-16, saved as Unicode Text' if utf16 else ''}); save it "
        "from Excel or WPS as 'CSV UTF-8' or as .xlsx, or convert it to UTF-8 "
        "(e.g. iconv -f latin1 -t utf-8 for Western European text)."
    )


def _delimiter(text: str) -> str:
    # Only the delimiter is taken from csv.Sniffer: its other guesses (doublequote
    # is False on a sample without "" in it) would break later rows.
    sample = text[: 16 * 1024]
    if len(text) > len(sample):
        sample = sample.rpartition("\n")[0] or sample  # a cut line would look inconsistent
    header = next((line for line in sample.splitlines() if line.strip()), "")
    try:
        found = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        found = ""
    if found and found in header:
        return found
    # The header names the columns, so it holds the delimiter if there are several.
    return max(DELIMITERS, key=header.count) if any(d in header for d in DELIMITERS) else ","


def _text_records(text: str, delimiter: str, label: str) -> Iterator[tuple[str, list[str]]]:
    csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL))
    # Strict: a quote never closed would otherwise swallow the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line = 0
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            # Take off the quote our own exports put before a formula-like cell.
            yield f"line {start}", [unescape_cell(c) for c in cells]
    except csv.Error as exc:
        start = line + 1
        where = f"line {start}" if reader.line_num <= start else f"lines {start}-{reader.line_num}"
        raise InvalidFile(
            f"{label} is not a well-formed CSV file: {where}: {exc}; a quoted value must end "
            'with a quote, and a quote inside it is written twice ("").'
        ) from None


def _xlsx_records(data: bytes, label: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    # openpyxl is the reader of .xlsx that needs neither Excel nor LibreOffice, and
    # its read-only mode streams the sheet instead of building the whole workbook.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            size = sum(info.file_size for info in archive.infolist()) // 2**20
        if size > MAX_XLSX_MIB:
            raise InvalidFile(f"{label} unpacks to {size} MiB (at most {MAX_XLSX_MIB}); split it.")
        # Warnings about styles and extensions openpyxl ignores say nothing about values.
        with warnings.catch_warnings(action="ignore"):
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheets = [ws.title for ws in book.worksheets]
                sheet = book.worksheets[0]
                # Dimensions saved by some programs are wrong or span styled empty
                # columns; without them each row is as long as its last cell.
                sheet.reset_dimensions()  # type: ignore[union-attr]
                raw = [
                    [(cell.value, getattr(cell, "number_format", None) or "") for cell in row]
                    for row in sheet.iter_rows()
                ]
            finally:
                book.close()
    except InvalidFile:
        raise
    except Exception as exc:  # whatever breaks in parsing foreign bytes, the file is at fault
        raise InvalidFile(
            f"{label} cannot be read as an Excel workbook (.xlsx): {type(exc).__name__}: {exc}. "
            "Open it in Excel or WPS and save it again as .xlsx, or as 'CSV UTF-8'."
        ) from None
    return sheets, [
        (f"sheet {sheets[0]}, row {n}", [_cell_text(v, fmt) for v, fmt in cells])
        for n, cells in enumerate(raw, start=1)
    ]


def _cell_text(value: object, number_format: str) -> str:
    """A cell as the text a CSV export of it would hold, without losing precision."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))  # 20261101010000.0 is a work-order number
        return repr(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        # Excel stores every date as a datetime; the format says whether it shows a time.
        value = value if any(c in number_format.lower() for c in "hs") else value.date()
    if isinstance(value, (dt.date, dt.time)):  # datetime too
        return value.isoformat()
    return str(value)


def _build(
    label: str,
    records: Iterable[tuple[str, list[str]]],
    delimiter: str | None,
    keep_blank_rows: bool,
    how: str,
) -> Table:
    header: list[str] = []
    width = 0
    rows: list[list[str]] = []
    labels: list[str] = []
    problems: list[str] = []
    unnamed: dict[int, str] = {}  # column with no name → the first row with a value there
    count = 0
    for where, cells in records:
        blank = not any(c.strip() for c in cells)
        # An empty line (or sheet row) is no row; ",," is one, which a routed file keeps.
        if blank and (not header or delimiter is None or len(cells) <= 1):
            continue
        if not header:
            header = [c.strip() for c in cells]
            # Unnamed columns at the right end are the spreadsheet's used range,
            # harmless as long as no row has a value in them.
            width = max((j + 1 for j, n in enumerate(header) if n), default=0)
            continue
        count += 1
        name = f"row {count} ({where})"
        for j in (j for j in range(width, len(cells)) if cells[j].strip()):
            if j < len(header) or delimiter is None:
                unnamed.setdefault(j, name)
            else:
                problems.append(
                    f"{name}: {len(cells)} cells but the header has {len(header)} columns "
                    f"(a {_DELIMITER_NAMES[delimiter]} inside a value needs quotes)"
                )
                break
        if keep_blank_rows or not blank:
            rows.append((cells + [""] * width)[:width])
            labels.append(name)
    header = header[:width]
    for j in sorted(unnamed.keys() | {j for j, n in enumerate(header) if not n}):
        column = str(j + 1) if delimiter else get_column_letter(j + 1)
        value = f", but {unnamed[j]} has a value in it" if j in unnamed else ""
        problems.append(f"header: column {column} has no name{value}")
    dupes = sorted({n for n in header if n and header.count(n) > 1})
    if dupes:
        problems.append(f"header: column(s) {', '.join(dupes)} appear more than once")
    if problems:
        raise InvalidFile(f"{label} cannot be read as a table.", details=capped(problems))
    return Table(label, header, rows, labels, how)


def pick_column(
    header: Sequence[str],
    names: Sequence[str],
    *,
    given: str | None = None,
    what: str = "values",
    label: str = "the file",
) -> str | None:
    """The column of ``header`` holding ``what``, as the header spells it, or None.

    ``given`` (the user's ``--lon-field``) overrides the known ``names`` (in order
    of preference, lower case); both match ignoring case and surrounding spaces.

    Raises:
        InvalidInput: ``given`` is not a column of the file.
    """
    folded = {column.strip().casefold(): column for column in reversed(header)}  # first wins
    if given:
        found = given if given in header else folded.get(given.strip().casefold())
        if found is not None:
            return found
        raise InvalidInput(
            f"{label}: there is no column {given!r} for the {what}; "
            f"the columns are: {', '.join(header)}."
        )
    return next((folded[n] for n in names if n in folded), None)


def coordinate_columns(
    header: Sequence[str],
    *,
    lon: str | None = None,
    lat: str | None = None,
    label: str = "the file",
) -> tuple[str | None, str | None]:
    """The longitude and latitude columns (``lon``/``lat``: the user's names, if given)."""
    return (
        pick_column(header, LON_COLUMNS, given=lon, what="longitude", label=label),
        pick_column(header, LAT_COLUMNS, given=lat, what="latitude", label=label),
    )


def read_geo_table(
    source: Path | bytes, label: str | None = None
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """A table whose geometry is a WKT or lon/lat columns, as a GeoDataFrame without CRS
    (the other columns stay text), and the label of each row.

    Raises:
        InvalidFile: Not a table (:func:`read_table`), no geometry column, or
            text where a coordinate belongs.
        InvalidGeometry: A WKT cell that cannot be parsed.
    """
    table = read_table(source, label)
    label = table.label
    wkt = pick_column(table.header, WKT_COLUMNS)
    lon, lat = coordinate_columns(table.header)
    if wkt is None and (lon is None or lat is None):
        raise InvalidFile(
            f"{label} has no geometry: expected a WKT column "
            f"({', '.join(WKT_COLUMNS)}) or longitude/latitude columns "
            f"({'/'.join(LON_COLUMNS)} and {'/'.join(LAT_COLUMNS)}); "
            f"its columns are: {', '.join(table.header)}."
        )
    geoms: list[shapely.Geometry | None] = []
    problems: list[str] = []
    for where, row in zip(table.labels, table.records()):
        geom, bad = _wkt(row[wkt], wkt) if wkt else _point(row, lon or "", lat or "")
        geoms.append(geom)
        problems.extend(f"{where}: {problem}" for problem in bad)
    if problems:
        error = InvalidGeometry if wkt else InvalidFile
        raise error(
            f"{label}: {len(problems)} row(s) have bad geometry values; nothing was imported.",
            details=capped(problems),
        )
    frame = table.frame().drop(columns=[wkt] if wkt else [])
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=None), table.labels


def _wkt(value: str, column: str) -> tuple[shapely.Geometry | None, list[str]]:
    # A blank cell is no geometry, which read_shapes reports with the others.
    value = value.strip()
    try:
        return (shapely.from_wkt(value) if value else None), []
    except shapely.errors.GEOSException as exc:
        shown = value if len(value) <= 40 else value[:39] + "…"
        return None, [f"column {column!r} holds {shown!r}, which is not WKT ({exc})"]


def _point(row: dict[str, str], lon: str, lat: str) -> tuple[shapely.Geometry | None, list[str]]:
    if not row[lon].strip() and not row[lat].strip():
        return None, []
    coords: list[float] = []
    problems: list[str] = []
    for column in (lon, lat):
        try:
            coords.append(float(row[column].strip()))
            if not math.isfinite(coords[-1]):
                raise ValueError
        except ValueError:
            problems.append(f"column {column!r} holds {row[column]!r}, which is not a number")
    return (None if problems else shapely.Point(coords)), problems
