"""Small shape files for the import/export tests, good ones and bad ones.

The good fixtures live in ``tests/data/shapes`` (the community 金江社区 KM001:
two grids, two compounds, four buildings, three units, staff); bad files are
written into a test's ``tmp_path`` by the functions here, each broken in one
way a real file gets broken.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from gridgis.shapes.importing import import_layer
from tests.support.actors import TESTS

DATA = Path(__file__).resolve().parent.parent / "data"
SHAPES = DATA / "shapes"
KUNMING = DATA / "kunming" / "buildings.geojson"
TABLES = (
    "community",
    "layout",
    "grid",
    "compound",
    "building",
    "unit",
    "staff",
    "assignment",
    "department",
)

GRID_CODES = ("530102001001001", "530102001001002")
#: A self-intersecting "bow tie" near the fixture community.
BOWTIE = [
    [102.7041, 25.0681],
    [102.7051, 25.0691],
    [102.7051, 25.0681],
    [102.7041, 25.0691],
    [102.7041, 25.0681],
]


def counts(bind: Session | Connection) -> dict[str, int]:
    """Rows per table: compared before and after a refused import."""
    return {t: bind.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def add_department(bind: Session | Connection, code: str = "WY01") -> None:
    bind.execute(
        sa.text(
            "INSERT INTO department (code, name, kind) VALUES (:c, '金江物业', 'property_company')"
        ),
        {"c": code},
    )


def load_fixture(session: Session, until: str = "staff", code: str = "KM001") -> dict[str, Any]:
    """Import the fixture community layer by layer up to ``until``; the reports by layer."""
    add_department(session)
    reports = {}
    for layer in ("community", "grids", "compounds", "buildings", "units", "staff"):
        name = "staff.csv" if layer == "staff" else f"{layer}.geojson"
        reports[layer] = import_layer(
            session,
            layer,
            SHAPES / name,
            community_code=code,
            layout_name="2026版",
            publish=layer == "grids",
            actor=TESTS,
        )
        if layer == until:
            break
    return reports


def feature(props: dict[str, Any], coords: Any, kind: str = "Polygon") -> dict[str, Any]:
    geometry = None if coords is None else {"type": kind, "coordinates": coords}
    return {"type": "Feature", "properties": props, "geometry": geometry}


def box(x0: float, y0: float, x1: float, y1: float) -> list[list[list[float]]]:
    return [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]


def geojson(path: Path, features: list[dict[str, Any]], **members: Any) -> Path:
    doc = {"type": "FeatureCollection", **members, "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def buildings_with_bowtie(path: Path) -> Path:
    """Three buildings; feature 2 crosses itself."""
    return geojson(
        path,
        [
            feature({"code": "X1"}, box(102.7041, 25.0661, 102.7046, 25.0666)),
            feature({"code": "X2"}, [BOWTIE]),
            feature({"code": "X3"}, box(102.7061, 25.0661, 102.7066, 25.0666)),
        ],
    )


def web_mercator_buildings(path: Path, *, declare: bool) -> Path:
    """Buildings in EPSG:3857 metres, with or without a crs member."""
    members = {"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}}
    return geojson(
        path,
        [
            feature({"code": "M1"}, box(12735000, 3570000, 12735040, 3570030)),
            feature({"code": "M2"}, box(12735100, 3570000, 12735140, 3570030)),
        ],
        **(members if declare else {}),
    )


def shapefile(path: Path, frame: gpd.GeoDataFrame, *, prj: bool = True) -> Path:
    pyogrio.write_dataframe(frame, str(path), encoding="UTF-8")
    if not prj:
        path.with_suffix(".prj").unlink()
    return path


def fixture_frame(name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(SHAPES / name)


def projected_buildings(crs: str = "EPSG:4543") -> gpd.GeoDataFrame:
    """The fixture buildings reprojected (CGCS2000 / Gauss-Krüger CM 102°E by default)."""
    return fixture_frame("buildings.geojson").to_crs(crs)


def unit_outside_building(path: Path) -> Path:
    """Units of B1 (fixture buildings): unit 1 fits, unit 2 pokes 20 m out of it."""
    return geojson(
        path,
        [
            feature({"building": "B1", "number": "1"}, box(102.7015, 25.0615, 102.70175, 25.0620)),
            feature({"building": "B1", "number": "2"}, box(102.70175, 25.0615, 102.7022, 25.0620)),
        ],
    )


def same_geometry(a: shapely.Geometry, b: shapely.Geometry) -> bool:
    """Equal as point sets, or vertex by vertex within 1e-9 degrees."""
    return bool(a.equals(b) or shapely.normalize(a).equals_exact(shapely.normalize(b), 1e-9))
