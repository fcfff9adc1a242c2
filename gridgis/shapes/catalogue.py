"""Departments (部门) and incident categories (事件类别): the community's catalogue.

Both are loaded from plain files an administrator can edit: departments as
GeoJSON (a feature's geometry, when present, is the department's jurisdiction)
and categories as a JSON list. Loading is an upsert by code, so a second load
of the same file changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import shapely
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, shape
from sqlalchemy.orm import Session

from gridgis import audit
from gridgis.audit import Actor
from gridgis.errors import InvalidFile
from gridgis.models import (
    DEPARTMENT_KINDS,
    SRID,
    VOLUNTEER_TEAMS,
    Category,
    Department,
)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise InvalidFile(f"{path}: no such file.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidFile(f"{path}: not valid JSON ({exc}).") from exc


def _jurisdiction(path: Path, index: int, geometry: dict[str, Any] | None) -> Any:
    if not geometry:
        return None
    geom = shape(geometry)
    if geom.geom_type == "Polygon":
        geom = MultiPolygon([geom])
    if geom.geom_type != "MultiPolygon" or not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise InvalidFile(
            f"{path}: feature {index}: a jurisdiction must be a valid polygon "
            f"(got {geom.geom_type}: {reason})."
        )
    return from_shape(geom, srid=SRID)


def load_departments(session: Session, path: Path, *, actor: Actor) -> int:
    """Upsert the departments of a GeoJSON file (audited); return how many it holds."""
    doc = _read_json(path)
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise InvalidFile(f"{path}: expected a GeoJSON FeatureCollection of departments.")
    problems: list[str] = []
    rows = []
    for index, feature in enumerate(features, start=1):
        props = feature.get("properties") or {}
        code, name, kind = props.get("code"), props.get("name"), props.get("kind")
        if not code or not name:
            problems.append(f"feature {index}: needs both 'code' and 'name'")
            continue
        if kind not in DEPARTMENT_KINDS:
            problems.append(
                f"feature {index} ({code}): kind {kind!r} is not one of "
                + ", ".join(DEPARTMENT_KINDS)
            )
            continue
        rows.append(
            {
                "code": str(code),
                "name": str(name),
                "kind": kind,
                "phone": props.get("phone"),
                "jurisdiction": _jurisdiction(path, index, feature.get("geometry")),
            }
        )
    if problems:
        raise InvalidFile(
            f"{path}: {len(problems)} department(s) cannot be loaded.", details=problems
        )
    for row in rows:
        department = session.scalar(sa.select(Department).where(Department.code == row["code"]))
        if department is None:
            session.add(Department(**row))
        else:
            for key, value in row.items():
                setattr(department, key, value)
    session.flush()
    audit.record(
        session, actor, "load", "departments", None, after={"file": str(path), "count": len(rows)}
    )
    return len(rows)


def load_categories(session: Session, path: Path, *, actor: Actor) -> int:
    """Upsert the categories of a JSON list (audited); return how many it holds."""
    doc = _read_json(path)
    if not isinstance(doc, list):
        raise InvalidFile(f"{path}: expected a JSON list of categories.")
    departments = {d.code: d for d in session.scalars(sa.select(Department))}
    problems: list[str] = []
    for index, item in enumerate(doc, start=1):
        code = item.get("code")
        label = f"category {index} ({code})" if code else f"category {index}"
        missing = [
            k
            for k in ("code", "name_zh", "name_en", "response_hours", "resolution_hours")
            if item.get(k) in (None, "")
        ]
        if missing:
            problems.append(f"{label}: missing {', '.join(missing)}")
            continue
        unknown = [c for c in item.get("departments", []) if c not in departments]
        if unknown:
            problems.append(
                f"{label}: unknown department code(s) {', '.join(unknown)}; load departments first"
            )
        team = item.get("volunteer_team")
        if team is not None and team not in VOLUNTEER_TEAMS:
            problems.append(
                f"{label}: volunteer_team {team!r} is not one of {', '.join(VOLUNTEER_TEAMS)}"
            )
        try:
            response, resolution = float(item["response_hours"]), float(item["resolution_hours"])
        except (TypeError, ValueError):
            problems.append(f"{label}: response_hours and resolution_hours must be numbers")
            continue
        if not 0 < response <= resolution:
            problems.append(f"{label}: needs 0 < response_hours <= resolution_hours")
    if problems:
        raise InvalidFile(f"{path}: {len(problems)} category problem(s).", details=problems)
    for item in doc:
        category = session.scalar(sa.select(Category).where(Category.code == item["code"]))
        if category is None:
            category = Category(code=item["code"])
            session.add(category)
        category.name_zh = item["name_zh"]
        category.name_en = item["name_en"]
        category.response_hours = float(item["response_hours"])
        category.resolution_hours = float(item["resolution_hours"])
        category.volunteer_team = item.get("volunteer_team")
        category.is_property = bool(item.get("is_property", False))
        category.departments = [departments[c] for c in item.get("departments", [])]
    session.flush()
    audit.record(
        session, actor, "load", "categories", None, after={"file": str(path), "count": len(doc)}
    )
    return len(doc)
