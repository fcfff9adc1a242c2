"""Table files: the one reader for CSV text and Excel workbooks, and their columns.

Every table gridgis reads comes through :func:`read_table` (layers with WKT or
lon/lat columns, staff, files to route, hotline exports), and which columns hold
coordinates or WKT is decided here too, so that a file that routes also imports.
Rows are named as a person finds them: "row 2 (line 3)" is the second data row,
starting on line 3 of the text; "row 2 (sheet 工单, row 3)" the same in a workbook.

Text is UTF-8 (with or without the BOM Excel writes), else GB18030: how Excel
and 12345 hotline systems on a Chinese Windows desktop save CSV (GBK is a
subset). Anything else is refused, never decoded into mojibake; but GB18030 is
refused only where a byte breaks its rules, so a Latin-1 file whose accents all
sit before ASCII letters would pass as rare Chinese characters.
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

from gridgis.errors import InvalidFile, InvalidGeometry, InvalidInput

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
#: A workbook unpacking to more than this is refused (a zip bomb would exhaust memory).
MAX_XLSX_UNPACKED = 512 * 1024 * 1024
#: Problem lines shown in one error; the rest are counted (as gridgis.shapes does).
MAX_PROBLEMS = 100
_SNIFF_SAMPLE = 16 * 1024
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and encrypted .xlsx


@dataclass
class Table:
    """The cells of a table file, all text; ``header`` names are stripped, unique, non-blank.

    ``labels`` name each row in messages ("row 2 (line 3)"); ``source`` says how
    the file was read ("UTF-8", "UTF-8 with BOM", "GB18030", "XLSX sheet '工单'").
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
            file must give back every row; empty lines are never rows.

    Raises:
        InvalidFile: The file cannot be read, is not UTF-8 or GB18030 text,
            is empty or has only a header, a header name is blank or
            repeated, or a row has more cells than the header.
    """
    if label is None:
        label = str(source) if isinstance(source, Path) else "the table"
    if isinstance(source, Path):
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise InvalidFile(f"{label} cannot be read ({exc.strerror}).") from None
    else:
        data = source
    suffix = Path(label).suffix.lower()
    if suffix == ".xls" or data.startswith(_OLE_MAGIC):
        raise InvalidFile(
            f"{label} is an old-style Excel .xls (or a password-protected) workbook; "
            "save it from Excel or WPS as .xlsx or as 'CSV UTF-8' and use that."
        )
    if not data.strip():
        raise InvalidFile(f"{label} is empty.")
    sheets: list[str] = []
    if suffix in XLSX_SUFFIXES or data.startswith(_ZIP_MAGIC):
        sheets, raw = _xlsx_rows(data, label)
        records: Iterable[tuple[str, list[str]]] = (
            (f"sheet {sheets[0]}, row {n}", [_cell_text(v, fmt) for v, fmt in cells])
            for n, cells in enumerate(raw, start=1)
        )
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
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise InvalidFile(
            f"{label} is UTF-16 text (Excel's 'Unicode Text'); save it as 'CSV UTF-8' "
            "or as .xlsx instead."
        )
    line = data.count(b"\n", 0, bad) + 1
    raise InvalidFile(
        f"{label} is neither UTF-8 nor GB18030 text (byte 0x{data[bad]:02x} on line {line} "
        "fits neither); save it from Excel or WPS as 'CSV UTF-8' or as .xlsx, or convert "
        "it to UTF-8 (e.g. iconv -f latin1 -t utf-8 for Western European text)."
    )


def _delimiter(text: str) -> str:
    # Only the delimiter is taken from csv.Sniffer: its other guesses (doublequote
    # is False on a sample without "" in it) would break later rows.
    sample = text[:_SNIFF_SAMPLE]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # a cut line would look inconsistent
    header = next((line for line in sample.splitlines() if line.strip()), "")
    try:
        found = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        found = ""
    if found and found in header:
        return found
    # The header names the columns, so it holds the delimiter if there is more than one.
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _text_records(text: str, delimiter: str, label: str) -> Iterator[tuple[str, list[str]]]:
    if csv.field_size_limit() < MAX_CELL:
        csv.field_size_limit(MAX_CELL)
    # Strict: a quote never closed would otherwise swallow the rest of the file.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    line = 0
    try:
        for cells in reader:
            start, line = line + 1, reader.line_num
            yield f"line {start}", cells
    except csv.Error as exc:
        start = line + 1
        where = f"line {start}" if reader.line_num <= start else f"lines {start}-{reader.line_num}"
        raise InvalidFile(
            f"{label} is not a well-formed CSV file: {where}: {exc}; a quoted value must end "
            'with a quote, and a quote inside it is written twice ("").'
        ) from None


def _xlsx_rows(data: bytes, label: str) -> tuple[list[str], list[list[tuple[object, str]]]]:
    # openpyxl is the reader of .xlsx that needs neither Excel nor LibreOffice, and
    # its read-only mode streams the sheet instead of building the whole workbook.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_XLSX_UNPACKED:
            raise InvalidFile(
                f"{label} unpacks to {unpacked // 2**20} MiB, more than the "
                f"{MAX_XLSX_UNPACKED // 2**20} MiB a workbook may hold; split it or send CSV."
            )
        with warnings.catch_warnings():
            # Warnings about styles and extensions openpyxl ignores say nothing about values.
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheets = [ws.title for ws in book.worksheets]
                if not sheets:
                    raise InvalidFile(f"{label} has no worksheet.")
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
    return sheets, raw


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
    if isinstance(value, dt.datetime):
        shows_time = any(c in number_format.lower() for c in "hs")
        if value.time() == dt.time() and not shows_time:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
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
    unnamed: dict[int, str] = {}
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
            width = len(header)
            while width and not header[width - 1]:
                width -= 1
            continue
        count += 1
        name = f"row {count} ({where})"
        for j in range(width, len(cells)):
            if not cells[j].strip():
                continue
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
    nameless = [_column(j, delimiter) for j, n in enumerate(header) if not n]
    dupes = sorted({n for n in header if n and header.count(n) > 1})
    if nameless:
        problems.append(f"header: column(s) {', '.join(nameless)} have no name")
    for j, where in sorted(unnamed.items()):
        problems.append(
            f"header: column {_column(j, delimiter)} has no name, but {where} has a value in it"
        )
    if dupes:
        problems.append(f"header: column(s) {', '.join(dupes)} appear more than once")
    if problems:
        raise InvalidFile(f"{label} cannot be read as a table.", details=_capped(problems))
    return Table(label, header, rows, labels, how)


def _column(j: int, delimiter: str | None) -> str:
    return get_column_letter(j + 1) if delimiter is None else str(j + 1)


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    return [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more"]


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
    folded: dict[str, str] = {}
    for column in header:
        folded.setdefault(column.strip().casefold(), column)
    if given:
        if given in header:
            return given
        if given.strip().casefold() in folded:
            return folded[given.strip().casefold()]
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
    """Read a table whose geometry is a WKT column or longitude/latitude columns.

    Returns:
        The table as a GeoDataFrame without CRS (the other columns stay
        text) and the label of each row.

    Raises:
        InvalidFile: The file cannot be read as a table (see :func:`read_table`),
            has no geometry column, or holds text where a coordinate belongs.
        InvalidGeometry: A WKT cell that cannot be parsed.
    """
    table = read_table(source, label)
    label, frame = table.label, table.frame()
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
        if wkt is not None:
            bad = _wkt(row[wkt], wkt, geoms)
        else:
            assert lon is not None and lat is not None  # refused above
            bad = _point(row, lon, lat, geoms)
        problems.extend(f"{where}: {problem}" for problem in bad)
    if problems:
        error = InvalidGeometry if wkt else InvalidFile
        raise error(
            f"{label}: {len(problems)} row(s) have bad geometry values; nothing was imported.",
            details=_capped(problems),
        )
    frame = frame.drop(columns=[wkt]) if wkt else frame
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=None), table.labels


def _wkt(value: str, column: str, geoms: list[shapely.Geometry | None]) -> list[str]:
    """Append the geometry of a WKT cell (None if blank); the problem, if any."""
    value = value.strip()
    try:
        # A blank cell is reported as "no geometry" with the others by the caller.
        geoms.append(shapely.from_wkt(value) if value else None)
    except shapely.errors.GEOSException as exc:
        geoms.append(None)
        shown = value if len(value) <= 40 else value[:39] + "…"
        return [f"column {column!r} holds {shown!r}, which is not WKT ({exc})"]
    return []


def _point(
    row: dict[str, str], lon: str, lat: str, geoms: list[shapely.Geometry | None]
) -> list[str]:
    """Append the point of a row's coordinate cells (None if both are blank); the problems."""
    if not row[lon].strip() and not row[lat].strip():
        geoms.append(None)
        return []
    coords: list[float] = []
    problems: list[str] = []
    for column in (lon, lat):
        try:
            number = float(row[column].strip())
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            coords.append(number)
        else:
            problems.append(f"column {column!r} holds {row[column]!r}, which is not a number")
    geoms.append(shapely.Point(coords) if len(coords) == 2 else None)
    return problems
