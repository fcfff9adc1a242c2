"""12345 hotline work-order files: read, classify, locate and take in every good row.

A hotline system exports its work orders (工单) as CSV (GB18030 from Excel on
a Chinese desktop, or UTF-8), XLSX or JSON (a list of objects), with the
columns 工单编号, 受理时间, 来电人, 联系电话, 诉求类型, 问题分类 (``一级>二级``),
诉求内容, 事发地址, 经度, 纬度, 坐标系, 办理时限, 工单状态. Tables are read by
the one reader (:func:`gridgis.geo.tables.read_table`), which also finds the
coordinate columns.

Each row becomes a :class:`~gridgis.incidents.reports.Report`
(:mod:`gridgis.incidents.hotline_rows` reads the file and its rows) and all of them
go through :func:`~gridgis.incidents.intake.take_in_many` (the batch path):

- the work-order number is the incident's external id, so importing a file
  again adds nothing (the summary says how many were there already);
- 问题分类 maps to a gridgis category through a table (:mod:`.mapping`); a
  classification the table does not map comes in unclassified, for a dispatcher;
- 坐标系 decides the CRS of the row (GCJ-02, WGS-84, BD-09, CGCS2000 in their
  usual spellings); ``crs`` is used where it is blank;
- 受理时间 is local time (the display zone, Asia/Shanghai) unless it has a zone;
- a row with an address and no coordinates is located by the address.

Bad rows (no work-order number or one that repeats an earlier row, a time
that cannot be read, no location, coordinates out of range, an address that
matches no building, a place outside coverage ...) are kept out and listed
with their row and reason; the good rows go in. A file with no good row
changes nothing and says why.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from gridgis import audit
from gridgis.access.permissions import Principal
from gridgis.errors import GridgisError, InvalidFile, capped
from gridgis.incidents.hotline_rows import _Reader, parse_local_time, read_work_orders
from gridgis.incidents.intake import Outcome, take_in_many
from gridgis.incidents.mapping import read_mapping
from gridgis.incidents.reports import Refused, Report
from gridgis.routing.columns import collector_paused

__all__ = [
    "CHANNEL",
    "HotlineImport",
    "Refusal",
    "import_hotline",
    "parse_local_time",
    "read_work_orders",
]

log = logging.getLogger(__name__)

CHANNEL = "hotline_12345"
#: Hotline systems are built on Amap or Tencent maps: GCJ-02 where 坐标系 is blank.
DEFAULT_CRS = "gcj02"

#: Why rows were refused, as the summary names them.
REASONS = {
    "no_id": "no work-order number",
    "duplicate_id": "work-order number repeated in the file",
    "bad_time": "time not readable",
    "no_location": "no location at all",
    "bad_coordinates": "coordinates not usable",
    "address_not_found": "address matches no building",
    "ambiguous_address": "address matches several buildings",
    "outside_coverage": "outside coverage",
    "invalid": "other",
}


@dataclass
class Refusal:
    """A row kept out: where it is, its work-order number, why."""

    row: str
    external_id: str
    reason: str
    message: str

    def line(self) -> str:
        number = f" {self.external_id}" if self.external_id else ""
        return f"{self.row}{number}: {REASONS.get(self.reason, self.reason)}: {self.message}"


@dataclass
class HotlineImport:
    """What importing one file did, row by row counted."""

    file: str
    source: str
    channel: str
    rows: int = 0
    taken_in: int = 0
    already_there: int = 0
    unclassified: Counter[str] = field(default_factory=Counter)
    by_address: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    crs: Counter[str] = field(default_factory=Counter)
    refused: list[Refusal] = field(default_factory=list)

    def refused_by_reason(self) -> Counter[str]:
        return Counter(r.reason for r in self.refused)

    def summary(self) -> str:
        """What a person reads at the end of an import: counts, then the rows kept out."""
        unclassified = sum(self.unclassified.values())
        lines = [
            f"{self.file} ({self.source}): {self.rows} work orders, channel {self.channel}.",
            f"  taken in        {self.taken_in:>7}"
            + (f"  ({self.by_address} located by address)" if self.by_address else ""),
            f"    unclassified  {unclassified:>7}"
            + ("  (for a dispatcher to classify)" if unclassified else ""),
            f"  already there   {self.already_there:>7}"
            + ("  (imported before: not added again)" if self.already_there else ""),
            f"  refused         {len(self.refused):>7}",
        ]
        lines += [f"    {REASONS.get(k, k):<40}{n:>3}" for k, n in self.refused_by_reason().items()]
        if self.rules:
            lines.append("Routed: " + ", ".join(f"{k} {n}" for k, n in self.rules.most_common()))
        if self.rules["unrouted"]:
            lines.append(
                "  (unrouted: in a community but in no grid, or before any grid layout was in "
                "force at 受理时间; they wait in the community's dispatcher queue)"
            )
        if self.crs:
            lines.append("坐标系: " + ", ".join(f"{k} {n}" for k, n in self.crs.most_common()))
        if self.unclassified:
            lines.append("Classifications no category is mapped to (add them to the mapping):")
            lines += [f"  {name or '(blank)'}  ×{n}" for name, n in self.unclassified.most_common()]
        if self.refused:
            lines.append("Rows kept out:")
            lines += [f"  {line}" for line in capped([r.line() for r in self.refused])]
        return "\n".join(lines)


def import_hotline(
    session: Session,
    path: Path,
    *,
    actor: Principal,
    channel: str = CHANNEL,
    crs: str | None = None,
    mapping: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> HotlineImport:
    """Take in the good work orders of a hotline export (flushed and audited, not committed).

    Args:
        path: A CSV/TSV, XLSX or JSON file.
        actor: Who imports (the incidents' ``created_by``, the events' and the audit's actor).
        channel: The channel the work orders came through.
        crs: The CRS of rows whose 坐标系 is blank (default GCJ-02).
        mapping: The classification table (JSON or CSV); default
            ``data/hotline/category_mapping.json``.
        progress: Called as ``progress(done, total)`` after each chunk.

    Raises:
        InvalidFile: The file cannot be read, lacks 工单编号 or 受理时间 or any
            location column, or none of its rows can be taken in (the rows
            and reasons are in the details; nothing is stored).
        InvalidInput: The mapping is malformed or names unknown categories.
    """
    # The collector's passes find nothing among an import's acyclic rows (routing.columns).
    with collector_paused():
        return _import(session, path, actor, channel, crs, mapping, progress)


def _import(
    session: Session,
    path: Path,
    actor: Principal,
    channel: str,
    crs: str | None,
    mapping: Path | None,
    progress: Callable[[int, int], None] | None,
) -> HotlineImport:
    classes = read_mapping(session, mapping)
    label, source, records = read_work_orders(path)
    found = HotlineImport(str(path), source, channel, rows=len(records))
    reports: list[Report] = []
    labels: list[str] = []
    first_row: dict[str, str] = {}
    read = _Reader(channel, crs or DEFAULT_CRS, classes)
    for where, values in records:
        try:
            report = read.report(values)
            earlier = first_row.setdefault(report.external_id or "", where)
            if earlier != where:
                raise Refused("duplicate_id", f"the same number as {earlier}")
        except GridgisError as exc:
            found.refused.append(_refusal(where, values, Outcome(error=exc)))
            continue
        reports.append(report)
        labels.append(where)
    outcomes = take_in_many(session, reports, actor=actor, progress=progress)
    for report, where, outcome in zip(reports, labels, outcomes, strict=True):
        if outcome.error is not None:
            found.refused.append(
                _refusal(where, {"external_id": report.external_id or ""}, outcome)
            )
        elif not outcome.created:
            found.already_there += 1
        else:
            found.taken_in += 1
            found.by_address += not report.has_point
            if report.category is None:
                found.unclassified[report.source_category or ""] += 1
            found.rules[outcome.rule or "?"] += 1
            found.crs[str(report.crs) if report.has_point else "(address)"] += 1
    order = {where: n for n, (where, _) in enumerate(records)}
    found.refused.sort(key=lambda r: order[r.row])
    if records and not (found.taken_in or found.already_there):
        raise InvalidFile(
            f"{label}: none of its {len(records)} work orders can be taken in; "
            "nothing was imported.",
            details=capped([r.line() for r in found.refused]),
        )
    audit.record(
        session,
        actor,
        "import",
        "incidents",
        channel,
        after={
            "file": str(path),
            "rows": found.rows,
            "taken_in": found.taken_in,
            "already_there": found.already_there,
            "unclassified": sum(found.unclassified.values()),
            "refused": dict(found.refused_by_reason()),
            "mapping": classes.source,
        },
    )
    log.info(
        "hotline import of %s: %d taken in, %d refused", label, found.taken_in, len(found.refused)
    )
    return found


def _refusal(where: str, values: dict[str, str], outcome: Outcome) -> Refusal:
    error = outcome.error
    message = error.user_msg if error is not None else ""
    return Refusal(where, values.get("external_id") or "", outcome.reason or "invalid", message)
