"""Departments and categories load from editable files, with clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.errors import InvalidFile
from gridgis.models import Category, Department
from gridgis.shapes.catalogue import load_categories, load_departments
from tests.support.actors import TESTS

DEPARTMENTS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": None,
            "properties": {"code": "CG", "name": "城管执法局", "kind": "urban_management"},
        },
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[114.34, 30.50], [114.35, 30.50], [114.35, 30.51], [114.34, 30.50]]
                ],
            },
            "properties": {"code": "JJ", "name": "交警队", "kind": "traffic_police"},
        },
    ],
}
CATEGORIES = [
    {
        "code": "parking",
        "name_zh": "违停",
        "name_en": "Illegal parking",
        "response_hours": 2,
        "resolution_hours": 24,
        "departments": ["JJ"],
    },
    {
        "code": "medical",
        "name_zh": "医疗救助",
        "name_en": "Medical help",
        "response_hours": 0.5,
        "resolution_hours": 4,
        "departments": [],
        "volunteer_team": "white",
    },
]


def write(tmp_path: Path, name: str, doc: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_load_twice_changes_nothing(db_session: Session, tmp_path: Path) -> None:
    deps = write(tmp_path, "d.geojson", DEPARTMENTS)
    cats = write(tmp_path, "c.json", CATEGORIES)
    for _ in range(2):
        assert load_departments(db_session, deps, actor=TESTS) == 2
        assert load_categories(db_session, cats, actor=TESTS) == 2
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Department)) == 2
    parking = db_session.scalar(sa.select(Category).where(Category.code == "parking"))
    assert parking is not None and [d.code for d in parking.departments] == ["JJ"]
    police = db_session.scalar(sa.select(Department).where(Department.code == "JJ"))
    assert police is not None and police.jurisdiction is not None


def test_unknown_department_and_bad_team_are_listed_together(
    db_session: Session, tmp_path: Path
) -> None:
    load_departments(db_session, write(tmp_path, "d.geojson", DEPARTMENTS), actor=TESTS)
    bad = [dict(CATEGORIES[0], departments=["NOPE"]), dict(CATEGORIES[1], volunteer_team="pink")]
    with pytest.raises(InvalidFile) as info:
        load_categories(db_session, write(tmp_path, "c.json", bad), actor=TESTS)
    text = str(info.value)
    assert "unknown department code(s) NOPE" in text
    assert "volunteer_team 'pink'" in text
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Category)) == 0


def test_bad_department_kind_names_the_feature(db_session: Session, tmp_path: Path) -> None:
    doc = json.loads(json.dumps(DEPARTMENTS))
    doc["features"][1]["properties"]["kind"] = "army"
    with pytest.raises(InvalidFile, match=r"feature 2 \(JJ\): kind 'army'"):
        load_departments(db_session, write(tmp_path, "d.geojson", doc), actor=TESTS)


def test_truncated_json_is_refused(db_session: Session, tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('[{"code": "parking", "name_zh": "违', encoding="utf-8")
    with pytest.raises(InvalidFile, match="not valid JSON"):
        load_categories(db_session, path, actor=TESTS)
