"""12345 hotline work-order files, row by row: the columns read, and each row as a report.

:func:`read_work_orders` reads an export (CSV/TSV/XLSX through the one table
reader, :func:`gridgis.geo.tables.read_table`, or a JSON list of objects) and
finds its columns by the names exports give them; :class:`_Reader` makes each
row a :class:`~gridgis.incidents.reports.Report` (its 坐标系 as gridgis names
CRSs, its 问题分类 mapped to a category, its 受理时间 in local time). The
import itself, with its summary, is :mod:`gridgis.incidents.hotline`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from pathlib import Path

from gridgis import clock
from gridgis.errors import InvalidFile
from gridgis.geo import tables
from gridgis.incidents.mapping import ClassMapping
from gridgis.incidents.reports import Refused, Report

JSON_SUFFIXES = (".json",)

#: The columns read, with the names exports give them (the first is the usual one).
COLUMNS = {
    "external_id": ("工单编号", "工单号", "work_order", "external_id"),
    "reported_at": ("受理时间", "来电时间", "reported_at"),
    "reporter_name": ("来电人", "诉求人", "reporter_name"),
    "reporter_phone": ("联系电话", "来电号码", "reporter_phone"),
    "kind": ("诉求类型",),
    "classification": ("问题分类", "source_category"),
    "description": ("诉求内容", "description"),
    "address": ("事发地址", "address"),
    "crs": ("坐标系", "坐标类型", "crs"),
    "time_limit": ("办理时限",),
    "status": ("工单状态",),
}
#: Kept as they came in the intake event (none of them personal data).
SOURCE_FIELDS = ("kind", "time_limit", "status")

#: 坐标系 as exports write it (case, spaces, underscores and width aside) → gridgis's names.
CRS_SPELLINGS = {
    **dict.fromkeys(("gcj-02", "gcj02", "gcj", "火星坐标", "火星坐标系", "国测局坐标"), "gcj02"),
    **dict.fromkeys(("bd-09", "bd09", "bd09ll", "百度", "百度坐标", "baidu"), "bd09"),
    **dict.fromkeys(("wgs-84", "wgs84", "gps", "epsg:4326", "4326"), "EPSG:4326"),
    **dict.fromkeys(("cgcs2000", "cgcs-2000", "国家2000", "epsg:4490", "4490"), "EPSG:4490"),
}

_TIME = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*T?\s*"
    r"(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(?:(\d{1,2})(?:\.(\d{1,6}))?\s*秒?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)

#: The usual 受理时间, all ASCII digits: ``datetime.fromisoformat`` reads it as ``_TIME`` does.
_PLAIN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


def read_work_orders(path: Path) -> tuple[str, str, list[tuple[str, dict[str, str]]]]:
    """The file's rows as (where, {field: text}), with how it was read.

    Raises:
        InvalidFile: Not a readable table or JSON list of objects, or without
            the columns a work order needs.
    """
    label = str(path)
    cells: list[list[str]] | None = None
    if path.suffix.lower() in JSON_SUFFIXES:
        header, rows, where, source = _read_json(path, label)
    else:
        table = tables.read_table(path, label)
        header, cells, where, source = table.header, table.rows, table.labels, table.source
    columns = {
        name: tables.pick_column(header, [n.casefold() for n in names])
        for name, names in COLUMNS.items()
    }
    columns["lon"], columns["lat"] = tables.coordinate_columns(header, label=label)
    missing = [COLUMNS[n][0] for n in ("external_id", "reported_at") if columns[n] is None]
    if columns["address"] is None and (columns["lon"] is None or columns["lat"] is None):
        missing.append("事发地址 or 经度/纬度")
    if missing:
        raise InvalidFile(
            f"{label} is not a work-order export: it has no column {', '.join(missing)}; "
            f"its columns are: {', '.join(header)}."
        )
    picked = [(name, column) for name, column in columns.items() if column]
    if cells is None:
        records = [
            (at, {name: (row.get(column) or "").strip() for name, column in picked})
            for at, row in zip(where, rows, strict=True)
        ]
    else:
        # A table's cells by position: no dict of every column per row first.
        at_index = [(name, header.index(column)) for name, column in picked]
        records = [
            (at, {name: (row[k] or "").strip() if k < len(row) else "" for name, k in at_index})
            for at, row in zip(where, cells, strict=True)
        ]
    return label, source, records


def _read_json(path: Path, label: str) -> tuple[list[str], list[dict[str, str]], list[str], str]:
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise InvalidFile(f"{label} cannot be read ({exc.strerror}).") from None
    except ValueError as exc:
        raise InvalidFile(f"{label} is not JSON: {exc}.") from None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InvalidFile(f"{label} must be a JSON list of objects, one per work order.")
    if not data:
        raise InvalidFile(f"{label} is an empty list: no work orders.")
    header = list(dict.fromkeys(str(key).strip() for item in data for key in item))
    rows = [{str(k).strip(): _json_text(v) for k, v in item.items()} for item in data]
    return header, rows, [f"item {n}" for n in range(1, len(rows) + 1)], "JSON"


def _json_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value) if not isinstance(value, float) else repr(value)


class _Reader:
    """Rows to reports, for one import: the few distinct 坐标系 and 问题分类 read once each."""

    def __init__(self, channel: str, default_crs: str, classes: ClassMapping) -> None:
        self.channel = channel
        self.default_crs = default_crs
        self.classes = classes
        self.zone = clock.local(clock.now()).tzinfo
        self.crs: dict[str, str] = {}
        self.categories: dict[str, str | None] = {}

    def report(self, values: dict[str, str]) -> Report:
        """One row as a report; Refused for a row that says too little to be one."""
        external_id = values.get("external_id", "")
        if not external_id:
            raise Refused("no_id", "the row has no work-order number (工单编号)")
        classification = values.get("classification") or None
        written_crs = values.get("crs", "")
        crs = self.crs.get(written_crs)
        if crs is None:
            crs = self.crs[written_crs] = _crs_name(written_crs) or self.default_crs
        category = None
        if classification is not None:
            if classification not in self.categories:
                self.categories[classification] = self.classes.category_for(classification)
            category = self.categories[classification]
        return Report(
            channel=self.channel,
            category=category,
            description=values.get("description", ""),
            lon=_number(values, "lon"),
            lat=_number(values, "lat"),
            crs=crs,
            address=values.get("address") or None,
            reported_at=parse_local_time(values.get("reported_at", ""), zone=self.zone),
            reporter_name=values.get("reporter_name") or None,
            reporter_phone=values.get("reporter_phone") or None,
            external_id=external_id,
            source_category=classification,
            source_fields={COLUMNS[k][0]: values[k] for k in SOURCE_FIELDS if values.get(k)},
        )


def _crs_name(written: str) -> str:
    """坐标系 as written → gridgis's name for it (case, spaces, ``_`` and width aside).

    A spelling not known is returned as written (the routing then says whether
    it names a CRS); blank stays blank.
    """
    key = "".join(unicodedata.normalize("NFKC", written).casefold().replace("_", "").split())
    return CRS_SPELLINGS.get(key, written)


def _number(values: dict[str, str], name: str) -> float | None:
    text = values.get(name, "")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise Refused("bad_coordinates", f"the {name} {text!r} is not a number") from None


def parse_local_time(text: str, *, zone: dt.tzinfo | None = None) -> dt.datetime:
    """受理时间 as written by hotline systems; local time (the display zone) without a zone.

    ``2026-11-01 17:54:51``, ``2026/11/1 17:54``, ``2026年11月1日 17时54分``,
    ``2026-11-01T17:54:51+08:00`` ...

    ``zone``: the display zone, when the caller has it already (an import reads
    it once rather than once a row).

    Raises:
        Refused: No time, no time of day, or not a time (``bad_time``).
    """
    stripped = text.strip()
    if _PLAIN.fullmatch(stripped) is not None:
        # The usual ``2026-11-01 17:54:51``, read as the pattern below reads it, faster.
        try:
            moment = dt.datetime.fromisoformat(stripped)
        except ValueError:
            pass  # not a date (2026-02-30): refused below, in the pattern's words
        else:
            return moment.replace(tzinfo=zone or clock.local(clock.now()).tzinfo)
    match = _TIME.fullmatch(stripped)
    try:
        if match is None:
            raise ValueError
        year, month, day, hour, minute, second, fraction, written_zone = match.groups()
        moment = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
        )
    except ValueError:
        raise Refused(
            "bad_time",
            f"受理时间 {text!r} is not a date and time such as 2026-11-01 17:54:51"
            if text.strip()
            else "the row has no 受理时间 (when the hotline took the call)",
        ) from None
    if written_zone is None:
        return moment.replace(tzinfo=zone or clock.local(clock.now()).tzinfo)
    if written_zone == "Z":
        return moment.replace(tzinfo=dt.UTC)
    sign = -1 if written_zone[0] == "-" else 1
    digits = written_zone[1:].replace(":", "")
    offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment.replace(tzinfo=dt.timezone(sign * offset))
