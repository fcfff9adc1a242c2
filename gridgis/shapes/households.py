"""Households (户) from a CSV file or an Excel workbook, all or nothing.

One row is one household: its code (户编码), where it lives — a building code
and optionally the unit number within it (楼栋, 单元), or a point (经度/纬度
in any CRS, ``gcj02`` and ``bd09`` too, with ``--crs``) that a spatial query
places in its unit or building — the room (房号), the head's name and phone
(户主, 电话), members (人数), care flags (关爱标记: several, separated by
``; , 、 |``, as codes or Chinese names), a note (备注) and optionally the
date it was registered (登记日期; default: when it is first imported).

Every problem is reported with its row, and nothing is stored when any row
is bad. Importing the same file again updates the households by code; a
household not in the file is left as it is. Names, phones and notes are
personal data (DESIGN.md): messages name rows, codes and columns, never them.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gridgis import clock
from gridgis.errors import InvalidFile, InvalidInput, NotFound
from gridgis.geo import tables
from gridgis.geo.crs import normalise_crs_name, to_wgs84
from gridgis.models import CARE_FLAG_TERMS, SRID, Building, Household, Unit
from gridgis.shapes.fields import LAYER_FIELDS, read_records
from gridgis.shapes.loader import CHUNK, ImportReport, Loader

#: How care flags are separated in a cell (ASCII and full-width).
FLAG_SEPARATORS = re.compile(r"[;,、|；，/]+")
#: Longest head name, phone and note stored (the columns' sizes; a note is a paragraph).
PERSONAL_LIMITS = {"head_name": 100, "phone": 32, "note": 2000}
#: Every way a file may name a care flag: codes, Chinese names, and their short forms.
FLAG_NAMES: dict[str, str] = {
    **{code.casefold(): code for code in CARE_FLAG_TERMS},
    **{t.zh: t.code for t in CARE_FLAG_TERMS.values()},
    **{t.en.casefold(): t.code for t in CARE_FLAG_TERMS.values()},
    "困难户": "hardship",
    "离退休": "retiree",
    "退休": "retiree",
    "独居老人": "elderly_alone",
    "信访": "petitioner",
}

# One statement for every point of the file: the unit whose polygon covers it,
# else the building; ties (a shared edge) go to the smaller, then the lower id,
# as routing decides (DESIGN.md, Routing rule 2).
_PLACE_POINTS = sa.text(
    """
    SELECT p.idx, un.id AS unit_id, coalesce(un.building_id, bl.id) AS building_id
    FROM unnest(CAST(:idx AS int[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]))
         AS p(idx, lon, lat)
    CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(p.lon, p.lat), :srid) AS g) pt
    LEFT JOIN LATERAL (
        SELECT u.id, u.building_id FROM unit u JOIN building b ON b.id = u.building_id
        WHERE b.community_id = :community AND ST_Covers(u.geom, pt.g)
        ORDER BY ST_Area(u.geom), u.id LIMIT 1) un ON true
    LEFT JOIN LATERAL (
        SELECT b.id FROM building b
        WHERE un.id IS NULL AND b.community_id = :community AND ST_Covers(b.geom, pt.g)
        ORDER BY ST_Area(b.geom), b.id LIMIT 1) bl ON true
    """
)


@dataclass
class HouseholdReport(ImportReport):
    """What a households import did: how many were added and how many updated."""

    added: int = 0
    updated: int = 0

    def summary(self) -> str:
        head = (
            f"Imported {self.count} households into community {self.community}: "
            f"{self.added} added, {self.updated} updated."
        )
        rest = super().summary().split("\n")[1:]
        return "\n".join([head, *rest])


def load_households(loader: Loader, path: Path, *, code_field: str | None, crs: str | None) -> None:
    """Check and store the households of a CSV file or XLSX workbook (see the module)."""
    label = loader.label
    report = HouseholdReport(layer="households", community=loader.report.community)
    loader.report = report
    if path.suffix.lower() not in tables.TABLE_SUFFIXES:
        raise InvalidFile(
            f"{label}: households are imported from a CSV file or an Excel workbook (.xlsx) "
            "with the columns code,building,unit,room,head_name,phone,members,care_flags,note,"
            "registered (or 户编码,楼栋,单元,房号,户主,电话,人数,关爱标记,备注,登记日期; "
            "经度,纬度 for a point)."
        )
    if not path.is_file():
        raise InvalidFile(f"{label} does not exist or is not a file.")
    community = loader.community
    if community is None:
        raise NotFound(
            f"No community with code {loader.report.community!r}; import its boundary, "
            "buildings and units before its households."
        )
    table = tables.read_table(path, label)
    labels = table.labels
    records, present, problems = read_records(
        table.frame(), LAYER_FIELDS["households"], labels, label, overrides={"code": code_field}
    )
    loader.check(problems)
    lon_column, lat_column = tables.coordinate_columns(table.header, label=label)
    has_points = lon_column is not None and lat_column is not None
    if "code" not in present:
        loader.problem(f"the file has no code (户编码) column (columns: {', '.join(table.header)})")
    if "building" not in present and not has_points:
        loader.problem(
            "the file places no household: give a building (楼栋) column, with a unit (单元) "
            "column where buildings have units, or longitude and latitude (经度, 纬度) columns"
        )
    loader.raise_problems()
    points = _points(loader, table, labels, records, lon_column, lat_column, crs)
    rows = _Places(loader, records, labels, points).rows()
    loader.raise_problems()
    _store(loader, report, rows)


def _points(
    loader: Loader,
    table: tables.Table,
    labels: list[str],
    records: list[dict[str, Any]],
    lon_column: str | None,
    lat_column: str | None,
    crs: str | None,
) -> dict[int, tuple[float, float]]:
    """Each row's point in WGS-84 (rows without one are left out)."""
    if lon_column is None or lat_column is None:
        return {}
    name = normalise_crs_name(crs or "EPSG:4326")
    points: dict[int, tuple[float, float]] = {}
    for i, (where, cells) in enumerate(zip(labels, table.records())):
        lon, lat = cells[lon_column].strip(), cells[lat_column].strip()
        if not lon and not lat:
            continue
        try:
            points[i] = to_wgs84(float(lon), float(lat), name)
        except ValueError:
            loader.problem(f"{where}: {lon_column}/{lat_column} must both be numbers")
        except InvalidInput as exc:
            # The message says what is wrong with the CRS or the numbers; a home's
            # coordinates are not quoted back (they place a person).
            loader.problem(f"{where}: the point cannot be read in {name} ({_reason(exc)})")
    return points


def _reason(exc: InvalidInput) -> str:
    text = exc.user_msg
    if text.startswith("Unknown CRS"):
        return "unknown CRS: give --crs as an EPSG code, gcj02 or bd09"
    return "not a place on Earth in this CRS: check --crs and the order of the columns"


class _Places:
    """Resolves each row's building and unit, and checks every other value."""

    def __init__(
        self,
        loader: Loader,
        records: list[dict[str, Any]],
        labels: list[str],
        points: dict[int, tuple[float, float]],
    ) -> None:
        self.loader = loader
        self.records = records
        self.labels = labels
        self.points = points
        community_id = loader.community_id
        session = loader.session
        codes = {r["building"] for r in records if r["building"] is not None}
        self.buildings: dict[str, int] = dict(
            session.execute(
                sa.select(Building.code, Building.id).where(
                    Building.community_id == community_id, Building.code.in_(sorted(codes))
                )
            ).all()
        )
        self.units: dict[tuple[int, str], int] = {
            (b, n): u
            for u, b, n in session.execute(
                sa.select(Unit.id, Unit.building_id, Unit.number).where(
                    Unit.building_id.in_(sorted(self.buildings.values()))
                )
            )
        }
        self.codes = {b: c for c, b in self.buildings.items()}
        self.placed = self._place_points()

    def _place_points(self) -> dict[int, tuple[int | None, int | None]]:
        if not self.points:
            return {}
        idx = sorted(self.points)
        found = self.loader.session.execute(
            _PLACE_POINTS,
            {
                "idx": idx,
                "lon": [self.points[i][0] for i in idx],
                "lat": [self.points[i][1] for i in idx],
                "srid": SRID,
                "community": self.loader.community_id,
            },
        )
        placed = {i: (unit, building) for i, unit, building in found}
        extra = {b for _, b in placed.values() if b is not None} - set(self.codes)
        if extra:
            self.codes.update(
                {
                    b: c
                    for b, c in self.loader.session.execute(
                        sa.select(Building.id, Building.code).where(Building.id.in_(extra))
                    )
                }
            )
        return placed

    def rows(self) -> list[dict[str, Any]]:
        problem = self.loader.problem
        community = self.loader.report.community
        rows: list[dict[str, Any]] = []
        first: dict[str, str] = {}
        today = clock.local(clock.now()).date()
        for i, (where, r) in enumerate(zip(self.labels, self.records)):
            code = r["code"]
            if code is None:
                problem(f"{where}: no household code (户编码)")
            elif code in first:
                problem(f"{where}: household {code!r} is also in {first[code]}; one code, one row")
            else:
                first[code] = where
            place = self._place(i, where, r, community)
            flags = _flags(where, r["care_flags"], problem)
            for column, most in PERSONAL_LIMITS.items():
                if r[column] is not None and len(r[column]) > most:
                    problem(f"{where}: the {column} is longer than {most} characters")
            registered = _registered(where, r["registered"], today, problem)
            if place is None or code is None:
                continue
            rows.append(
                {
                    "code": code,
                    "building_id": place[0],
                    "unit_id": place[1],
                    "room": r["room"],
                    "head_name": r["head_name"],
                    "phone": r["phone"],
                    "members": r["members"],
                    "care_flags": flags,
                    "note": r["note"],
                    "geom": _ewkt(self.points.get(i)),
                    "_registered": registered,
                }
            )
        return rows

    def _place(
        self, i: int, where: str, r: dict[str, Any], community: str
    ) -> tuple[int, int | None] | None:
        """The row's (building id, unit id), or None after reporting why there is none."""
        problem = self.loader.problem
        code, number = r["building"], r["unit"]
        if code is None and i not in self.points:
            hint = f"a unit ({number}) needs its building" if number else "no building, no point"
            problem(f"{where}: {hint}; give the building (楼栋) code or a point (经度, 纬度)")
            return None
        placed = self.placed.get(i)
        if code is None:
            if placed is None or placed[1] is None:
                problem(
                    f"{where}: its point lies in no building of community {community}; "
                    "check the coordinates and --crs"
                )
                return None
            return placed[1], placed[0]
        building = self.buildings.get(code)
        if building is None:
            problem(f"{where}: building {code!r} is not a building of community {community}")
            return None
        unit = None
        if number is not None:
            unit = self.units.get((building, number)) or self.units.get(
                (building, number.removesuffix("单元").strip())
            )
            if unit is None:
                problem(f"{where}: building {code!r} has no unit {number!r}")
                return None
        if placed is not None and placed[1] != building:
            other = self.codes.get(placed[1]) if placed[1] is not None else None
            inside = f"building {other!r}" if other else "no building"
            problem(f"{where}: its point lies in {inside}, not in building {code!r}")
            return None
        return building, unit


def _flags(where: str, cell: str | None, problem: Any) -> list[str]:
    flags: list[str] = []
    for token in FLAG_SEPARATORS.split(cell or ""):
        token = token.strip()
        if not token:
            continue
        flag = FLAG_NAMES.get(token) or FLAG_NAMES.get(token.casefold())
        if flag is None:
            known = ", ".join(f"{t.code} ({t.zh})" for t in CARE_FLAG_TERMS.values())
            problem(f"{where}: care flag {token[:20]!r} is not one of {known}")
        elif flag not in flags:
            flags.append(flag)
    return [f for f in CARE_FLAG_TERMS if f in flags]


def _registered(where: str, cell: str | None, today: dt.date, problem: Any) -> dt.datetime | None:
    """The registration date as its local midnight (a full time with a zone is kept)."""
    if cell is None:
        return None
    try:
        if len(cell) <= 10:
            day = dt.date.fromisoformat(cell.replace("/", "-"))
            at = dt.datetime.combine(day, dt.time(), tzinfo=clock.local(clock.now()).tzinfo)
        else:
            at = clock.require_aware(dt.datetime.fromisoformat(cell))
    except (ValueError, InvalidInput):
        problem(f"{where}: registered {cell!r} is not a date such as 2026-03-01")
        return None
    if clock.local(at).date() > today:
        problem(f"{where}: registered {cell!r} is in the future")
        return None
    return at


def _ewkt(point: tuple[float, float] | None) -> str | None:
    return None if point is None else f"SRID={SRID};POINT({point[0]!r} {point[1]!r})"


def _store(loader: Loader, report: HouseholdReport, rows: list[dict[str, Any]]) -> None:
    """Insert the new codes and update the known ones, in batches; count both."""
    session = loader.session
    community_id = loader.community_id
    known = dict(
        session.execute(
            sa.select(Household.code, Household.id).where(
                Household.community_id == community_id,
                Household.code.in_([r["code"] for r in rows]),
            )
        ).all()
    )
    now = clock.now()
    added: list[dict[str, Any]] = []
    updated: list[dict[str, Any]] = []
    for row in rows:
        registered = row.pop("_registered")
        if row["code"] in known:
            # The registration date changes only when the file gives one.
            when = {"created_at": registered} if registered is not None else {}
            updated.append({**row, **when, "id": known[row["code"]], "updated_at": now})
        else:
            added.append(
                {
                    **row,
                    "community_id": community_id,
                    "created_at": registered or now,
                    "updated_at": now,
                }
            )
    loader.insert(Household, added)
    for start in range(0, len(updated), CHUNK):
        # ORM bulk UPDATE by primary key: executemany, grouped by the columns given.
        session.execute(sa.update(Household), updated[start : start + CHUNK])
    report.added, report.updated = len(added), len(updated)
    report.count = report.added + report.updated
