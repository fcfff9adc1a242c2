"""Reading the files to route, and the most rows one batch may hold.

Tables (CSV, TSV, XLSX) are read by :func:`gridgis.geo.tables.read_table`;
GeoJSON is read here, feature by feature. A body within the upload size can
still hold millions of short rows, and every row read costs memory long
before it is routed, so a batch has a row limit (``max_rows``), checked
*before* a file is read in full:

- a GeoJSON document is parsed one feature at a time, and parsing stops at
  the first feature past the limit;
- a table is counted first, a cheap pass that stops at the first row past the
  limit (most files are settled by counting line ends, or an XLSX by its
  unpacked size, without parsing at all); only a file within the limit is
  then read into rows. The count does not refuse a file that
  :func:`~gridgis.geo.tables.read_table` would read as within the limit (see
  :func:`more_rows_than` for the fine print), and the rows read are counted
  again, so the limit holds even for a file the first pass could not settle.
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
import zipfile
from typing import Any

import openpyxl  # type: ignore[import-untyped]

from gridgis.errors import GridgisError, InvalidFile
from gridgis.geo import tables


class TooManyRows(GridgisError):
    """A batch holds more rows than one request (or command) may route."""

    http_status = 413


#: Fewest bytes one non-blank row takes in a worksheet's XML:
#: ``<row><c><v>1</v></c></row>`` is 26.
_XLSX_ROW_BYTES = 24
_JSON_SPACE = re.compile(r"[ \t\n\r]*")
_ZIP_MAGIC = b"PK\x03\x04"


def too_many_rows(source: str, limit: int) -> TooManyRows:
    """The error for a batch past ``limit`` rows: what the limit is, and what to do."""
    return TooManyRows(
        f"{source} has more than {limit:,} rows; one batch routes at most {limit:,}. "
        f"Split the file into parts of at most {limit:,} rows and route each part."
    )


def read_csv(
    data: bytes, source: str, *, max_rows: int | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows (dicts of text) of a table file: CSV, TSV or XLSX.

    (The name is older than workbooks; tests/gridgis/routing/test_realdata.py uses it.)
    Every row is kept, blank ones too, so that the routed file has them all.

    Raises:
        TooManyRows: More than ``max_rows`` rows (None: no limit); such a file
            is not read beyond the first row past the limit.
    """
    if max_rows is not None and more_rows_than(data, source, max_rows):
        raise too_many_rows(source, max_rows)
    table = tables.read_table(data, source, keep_blank_rows=True)
    if max_rows is not None and len(table.rows) > max_rows:
        raise too_many_rows(source, max_rows)  # a file the first count could not settle
    return table.header, table.records()


def more_rows_than(data: bytes, source: str, limit: int) -> bool:
    """Whether the table file ``data`` surely holds more than ``limit`` rows below its header.

    Counts no further than row ``limit + 1``. True only when
    :func:`~gridgis.geo.tables.read_table` (keeping blank rows) would read more
    than ``limit`` rows, for every UTF-8 file and every GB18030 file not
    delimited by "|"; a file that cannot be counted answers False, for
    ``read_table`` to refuse with its own message.
    """
    if source.lower().endswith(tables.XLSX_SUFFIXES) or data.startswith(_ZIP_MAGIC):
        return _xlsx_rows(data, limit + 1) > limit
    # Each row below the header starts after a line end: a file with no more
    # line ends than ``limit`` holds no more rows (the common case, no parsing).
    line_ends = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    if line_ends <= limit:
        return False
    # Quotes, delimiters and line ends are single bytes in UTF-8 and GB18030
    # alike, so the text is read as Latin-1 (byte for byte). Which delimiter
    # read_table will choose is not known here: the file surely has too many
    # rows only if it has with each of them (a file within the limit usually
    # settles it with the first, the comma).
    return all(_text_rows(data, d, limit + 1) > limit for d in tables.DELIMITERS)


def _text_rows(data: bytes, delimiter: str, wanted: int) -> int:
    # The rows tables.read_table keeps: blank records before the header are
    # skipped, and below it, empty lines (",," is a row).
    csv.field_size_limit(max(csv.field_size_limit(), tables.MAX_CELL))
    text = io.TextIOWrapper(io.BytesIO(data), encoding="latin-1", newline="")
    header, rows = False, 0
    try:
        for cells in csv.reader(text, delimiter=delimiter):
            blank = not any(c.strip() for c in cells)
            if not header:
                header = not blank
            elif not blank or len(cells) > 1:
                rows += 1
                if rows >= wanted:
                    break
    except csv.Error:
        pass  # malformed further on: read_table says where
    return rows


def _xlsx_rows(data: bytes, wanted: int) -> int:
    # Sheet rows that are not blank: the first is the header.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked < _XLSX_ROW_BYTES * wanted or unpacked > tables.MAX_XLSX_MIB * 2**20:
            return 0  # too small to hold that many rows; or refused by read_table unread
        with warnings.catch_warnings(action="ignore"):
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheet = book.worksheets[0]
                sheet.reset_dimensions()  # type: ignore[union-attr]
                records = 0
                for values in sheet.iter_rows(values_only=True):
                    if any(v is not None and str(v).strip() for v in values):
                        records += 1
                        if records > wanted:
                            break
            finally:
                book.close()
    except Exception:  # whatever breaks in foreign bytes, read_table names it better
        return 0
    return max(records - 1, 0)


def read_geojson(
    data: bytes, source: str, *, max_rows: int | None = None
) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """The property names, the properties and the features of a FeatureCollection.

    Raises:
        InvalidFile: Not JSON, or not a FeatureCollection of objects.
        TooManyRows: More than ``max_rows`` features (None: no limit); parsing
            stops at the first feature past the limit.
    """
    if not data.strip():
        raise InvalidFile(f"{source}: the file is empty.")
    try:
        doc = _feature_collection(data.decode("utf-8-sig"), source, max_rows)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidFile(f"{source}: not valid GeoJSON ({exc}).") from exc
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "FeatureCollection"
        or not isinstance(doc.get("features"), list)
    ):
        raise InvalidFile(f"{source}: expected a GeoJSON FeatureCollection.")
    features = doc["features"]
    columns: list[str] = []
    rows = []
    for i, feature in enumerate(features):
        if not isinstance(feature, dict):
            raise InvalidFile(f"{source}: feature {i} is not a GeoJSON Feature (an object).")
        props = feature.get("properties")
        if props is not None and not isinstance(props, dict):
            raise InvalidFile(f"{source}: the properties of feature {i} are not an object.")
        props = dict(props or {})
        for key in props:
            if key not in columns:
                columns.append(key)
        rows.append(props)
    return columns, rows, features


def _feature_collection(text: str, source: str, max_rows: int | None) -> Any:
    """The JSON document ``text``, parsed as json.loads would, but with its
    top-level ``features`` array read one feature at a time (and no further
    than ``max_rows``)."""
    decoder = json.JSONDecoder()
    pos = _JSON_SPACE.match(text).end()  # type: ignore[union-attr]
    if not text.startswith("{", pos):
        if text.startswith("[", pos):
            return []  # an array is no FeatureCollection, whatever it holds
        return json.loads(text)
    doc: dict[str, Any] = {}
    pos = _skip(text, pos + 1)
    if text.startswith("}", pos):
        return _end(text, pos + 1, doc)
    while True:
        if not text.startswith('"', pos):
            raise json.JSONDecodeError(
                "Expecting property name enclosed in double quotes", text, pos
            )
        key, pos = decoder.raw_decode(text, pos)
        pos = _skip(text, pos)
        if not text.startswith(":", pos):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, pos)
        pos = _skip(text, pos + 1)
        if key == "features" and text.startswith("[", pos):
            doc[key], pos = _features(decoder, text, pos, source, max_rows)
        else:
            doc[key], pos = decoder.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text.startswith("}", pos):
            return _end(text, pos + 1, doc)
        if not text.startswith(",", pos):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        pos = _skip(text, pos + 1)


def _features(
    decoder: json.JSONDecoder, text: str, pos: int, source: str, max_rows: int | None
) -> tuple[list[Any], int]:
    features: list[Any] = []
    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        return features, pos + 1
    while True:
        feature, pos = decoder.raw_decode(text, pos)
        features.append(feature)
        if max_rows is not None and len(features) > max_rows:
            raise too_many_rows(source, max_rows)
        pos = _skip(text, pos)
        if text.startswith("]", pos):
            return features, pos + 1
        if not text.startswith(",", pos):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
        pos = _skip(text, pos + 1)


def _skip(text: str, pos: int) -> int:
    return _JSON_SPACE.match(text, pos).end()  # type: ignore[union-attr]


def _end(text: str, pos: int, doc: dict[str, Any]) -> dict[str, Any]:
    pos = _skip(text, pos)
    if pos != len(text):
        raise json.JSONDecodeError("Extra data", text, pos)
    return doc
