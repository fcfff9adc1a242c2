"""Importing layers (gridgis.shapes.importing) into a real PostGIS, all or nothing.

Each refused import is checked twice: the error names the file, the feature
and the problem, and no table has a row more or less than before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import mapping
from sqlalchemy.orm import Session

from gridgis.errors import GridgisError, InvalidFile, InvalidGeometry, NotFound
from gridgis.geo.layouts import choose_layout, get_community
from gridgis.models import Assignment, Building, Compound, Grid, Layout, Staff, Unit
from gridgis.shapes.importing import ImportReport, import_layer
from tests.support.actors import TESTS
from tests.support.shape_files import (
    GRID_CODES,
    KUNMING,
    SHAPES,
    box,
    buildings_with_bowtie,
    counts,
    feature,
    fixture_frame,
    geojson,
    load_fixture,
    projected_buildings,
    shapefile,
    unit_outside_building,
    web_mercator_buildings,
)

CODE = "KM001"
FULL = shapely.box(102.700, 25.060, 102.720, 25.070)


def _import(session: Session, layer: str, path: Path, **kwargs: object) -> ImportReport:
    kwargs.setdefault("community_code", CODE)
    return import_layer(session, layer, path, **kwargs, actor=TESTS)  # type: ignore[arg-type]


def _geom(session: Session, sql: str, **params: object) -> shapely.Geometry:
    return shapely.from_wkb(bytes(session.execute(sa.text(sql), params).scalar_one()))


def _boundary(session: Session, code: str = CODE) -> shapely.Geometry:
    return _geom(session, "SELECT ST_AsBinary(boundary) FROM community WHERE code = :c", c=code)


# --- the good path ----------------------------------------------------------------


def test_community_layer_creates_then_updates_the_community(db_session: Session) -> None:
    report = _import(db_session, "community", SHAPES / "community.geojson")
    assert report.created_community and report.count == 1
    community = get_community(db_session, CODE)
    assert (community.name, community.gap_tolerance_m) == ("金江社区", 25)
    assert (community.households_min, community.households_max) == (300, 500)
    assert _boundary(db_session).equals(FULL)
    assert report.summary().startswith("Imported the boundary of community KM001.\nCreated")


def test_community_layer_updates_an_existing_boundary(db_session: Session, tmp_path: Path) -> None:
    _import(db_session, "community", SHAPES / "community.geojson")
    path = geojson(
        tmp_path / "c.geojson",
        [
            feature({"code": CODE, "households_max": 450}, box(102.700, 25.060, 102.730, 25.070)),
        ],
    )
    report = _import(db_session, "community", path)
    assert not report.created_community
    community = get_community(db_session, CODE)
    db_session.refresh(community)
    assert (community.name, community.households_max) == ("金江社区", 450)
    assert _boundary(db_session).equals(shapely.box(102.700, 25.060, 102.730, 25.070))


def test_grids_create_the_community_and_a_draft_layout(db_session: Session) -> None:
    report = _import(db_session, "grids", SHAPES / "grids.geojson", community_code="NEW")
    assert report.created_community and report.count == 2
    assert report.boundary_from == "the union of the grids"
    assert _boundary(db_session, "NEW").equals(FULL)
    community = get_community(db_session, "NEW")
    assert community.name == "NEW"
    layout = db_session.scalars(sa.select(Layout).where(Layout.community_id == community.id)).one()
    assert layout.status == "draft" and layout.name == report.layout
    assert layout.name.startswith("import 20")
    grids = db_session.execute(
        sa.select(Grid.code, Grid.name).where(Grid.layout_id == layout.id).order_by(Grid.code)
    ).all()
    assert grids == [(GRID_CODES[0], "第一网格"), (GRID_CODES[1], "第二网格")]
    assert choose_layout(db_session, community) is None
    assert report.summary() == (
        "Imported 2 grids into community NEW.\n"
        "Created community NEW; its boundary is the union of the grids.\n"
        f"Layout {layout.name!r}: a draft, not yet in force."
    )


def _in_force(session: Session, code: str) -> str | None:
    layout = choose_layout(session, get_community(session, code))
    return layout.name if layout is not None else None


def test_publish_puts_the_choose_layout(db_session: Session) -> None:
    first = _import(db_session, "grids", SHAPES / "grids.geojson", publish=True, layout_name="v1")
    assert first.published and _in_force(db_session, CODE) == "v1"
    second = _import(db_session, "grids", SHAPES / "grids.geojson", publish=True, layout_name="v2")
    assert not second.created_community
    assert _in_force(db_session, CODE) == "v2"
    assert "Layout 'v2': published, in force from now." in second.summary()


def test_grids_into_an_existing_community_leave_its_boundary_alone(
    db_session: Session, tmp_path: Path
) -> None:
    _import(db_session, "community", SHAPES / "community.geojson")
    wider = geojson(
        tmp_path / "wider.geojson",
        [
            feature({"code": "G1"}, box(102.690, 25.050, 102.710, 25.080)),
        ],
    )
    _import(db_session, "grids", wider)
    again = _import(db_session, "grids", wider)  # same second: the default name gets a suffix
    assert _boundary(db_session).equals(FULL)
    names = db_session.scalars(sa.select(Layout.name).order_by(Layout.id)).all()
    assert len(set(names)) == 2 and again.layout in names


def test_taken_layout_name_is_refused(db_session: Session) -> None:
    _import(db_session, "grids", SHAPES / "grids.geojson", layout_name="2026版")
    before = counts(db_session)
    with pytest.raises(InvalidFile) as caught:
        _import(db_session, "grids", SHAPES / "grids.geojson", layout_name="2026版")
    assert caught.value.details == [
        "community KM001 already has a layout named '2026版'; choose another --layout name"
    ]
    assert counts(db_session) == before


def test_the_whole_fixture_community(db_session: Session) -> None:
    reports = load_fixture(db_session)
    assert {k: r.count for k, r in reports.items()} == {
        "community": 1,
        "grids": 2,
        "compounds": 2,
        "buildings": 4,
        "units": 3,
        "staff": 7,
    }
    compounds = db_session.execute(
        sa.text(
            "SELECT c.code, d.code, c.has_owners_committee FROM compound c "
            "LEFT JOIN department d ON d.id = c.property_company_id ORDER BY c.code"
        )
    ).all()
    assert compounds == [("C1", "WY01", True), ("C2", None, False)]
    buildings = db_session.execute(
        sa.select(
            Building.code,
            Building.name,
            Building.address,
            Building.floors,
            Building.households,
            Compound.code,
        )
        .outerjoin(Compound, Compound.id == Building.compound_id)
        .order_by(Building.code)
    ).all()
    assert buildings == [
        ("B1", "金色年华1栋", "金江路1号1栋", 18, 72, "C1"),
        ("B2", "金色年华2栋", "金江路1号2栋", 6, 24, "C1"),  # found by location
        ("B3", "翠苑1栋", "金江路9号1栋", 11, 44, "C2"),
        ("B4", None, None, None, None, None),
    ]
    units = db_session.execute(
        sa.select(Building.code, Unit.number, Unit.households).join(Building).order_by(Unit.id)
    ).all()
    assert units == [("B1", "1", 36), ("B1", "2", 36), ("B3", "1", 44)]
    staff = reports["staff"]
    assert (staff.count, staff.assignments, staff.layout) == (7, 7, "2026版")
    roles = db_session.execute(
        sa.select(
            Staff.code, Assignment.role, Grid.code, Assignment.volunteer_team, Assignment.on_duty
        )
        .outerjoin(Assignment, Assignment.staff_id == Staff.id)
        .outerjoin(Grid, Grid.id == Assignment.grid_id)
        .order_by(Staff.code, Assignment.id)
    ).all()
    assert roles == [
        ("S01", "grid_worker", GRID_CODES[0], None, True),
        ("S02", "part_time_worker", GRID_CODES[0], None, True),
        ("S03", "building_head", None, None, True),
        ("S04", "unit_head", None, None, True),
        ("S05", "volunteer", GRID_CODES[0], "red", True),
        ("S05", "volunteer", GRID_CODES[1], "blue", False),
        ("S06", "grid_worker", GRID_CODES[1], None, True),
        ("S07", None, None, None, None),
    ]
    assert staff.summary().startswith("Imported 7 staff with 7 assignment(s) into community KM001.")


def test_csv_and_shapefile_import_like_geojson(db_session: Session, tmp_path: Path) -> None:
    load_fixture(db_session, until="grids")
    report = _import(db_session, "buildings", SHAPES / "buildings_wkt.csv")
    assert report.count == 2
    address = db_session.scalar(sa.select(Building.address).where(Building.code == "B1"))
    assert address == "金江路1号\r\n1栋"
    path = shapefile(tmp_path / "b.shp", projected_buildings().drop(columns="compound"))
    with pytest.raises(InvalidFile, match="already used"):
        _import(db_session, "buildings", path)
    assert _import(db_session, "buildings", path, community_code="GK").count == 4
    b1 = _geom(
        db_session,
        "SELECT ST_AsBinary(b.geom) FROM building b JOIN community c "
        "ON c.id = b.community_id WHERE c.code = 'GK' AND b.code = 'B1'",
    )
    expected = shapely.MultiPolygon([shapely.box(102.7015, 25.0615, 102.7020, 25.0620)])
    assert b1.normalize().equals_exact(expected.normalize(), 1e-8)  # metres and back


def test_gb18030_csv_of_buildings_with_wkt_imports(db_session: Session, tmp_path: Path) -> None:
    load_fixture(db_session, until="grids")
    # The fixture as Excel saves it on a Chinese Windows desktop: GB18030, no BOM.
    path = tmp_path / "楼栋.csv"
    text = (SHAPES / "buildings_wkt.csv").read_bytes().decode("utf-8-sig")
    path.write_bytes(text.encode("gb18030"))
    assert _import(db_session, "buildings", path).count == 2
    assert db_session.execute(
        sa.select(
            Building.code, Building.name, Building.address, Building.floors, Building.households
        ).order_by(Building.code)
    ).all() == [
        ("B1", "金色年华1栋", "金江路1号\r\n1栋", 18, 72),
        ("B2", "金色年华2栋, 东", "金江路1号2栋", 6, 24),
    ]


def test_xlsx_of_buildings_imports_like_geojson(db_session: Session, tmp_path: Path) -> None:
    load_fixture(db_session, until="compounds")
    frame = fixture_frame("buildings.geojson")
    path = tmp_path / "buildings.xlsx"
    # Numbers stay numbers (floors 18.0), missing values are empty cells, WKT is text.
    frame.assign(wkt=frame.geometry.to_wkt()).drop(columns="geometry").to_excel(
        path, index=False, sheet_name="楼栋"
    )
    assert _import(db_session, "buildings", path).count == 4
    assert db_session.execute(
        sa.select(Building.code, Building.name, Building.floors, Building.households, Compound.code)
        .outerjoin(Compound, Compound.id == Building.compound_id)
        .order_by(Building.code)
    ).all() == [
        ("B1", "金色年华1栋", 18, 72, "C1"),
        ("B2", "金色年华2栋", 6, 24, "C1"),  # no compound cell: found by location
        ("B3", "翠苑1栋", 11, 44, "C2"),
        ("B4", None, None, None, None),
    ]
    b1 = _geom(db_session, "SELECT ST_AsBinary(geom) FROM building WHERE code = 'B1'")
    assert b1.equals(shapely.MultiPolygon([shapely.box(102.7015, 25.0615, 102.7020, 25.0620)]))


def test_staff_from_xlsx_with_numbers_as_excel_keeps_them(
    db_session: Session, tmp_path: Path
) -> None:
    load_fixture(db_session, until="units")
    path = tmp_path / "staff.xlsx"
    # pandas types the columns as Excel would: phones and grid codes as numbers, unit 1 as 1.0.
    pd.read_csv(SHAPES / "staff.csv").to_excel(path, index=False, sheet_name="人员")
    report = _import(db_session, "staff", path)
    assert (report.count, report.assignments) == (7, 7)
    assert db_session.execute(
        sa.select(Staff.code, Staff.phone, Assignment.role, Grid.code, Unit.number)
        .join(Assignment, Assignment.staff_id == Staff.id)
        .outerjoin(Grid, Grid.id == Assignment.grid_id)
        .outerjoin(Unit, Unit.id == Assignment.unit_id)
        .where(Staff.code.in_(["S01", "S04"]))
        .order_by(Staff.code)
    ).all() == [
        ("S01", "13800000001", "grid_worker", GRID_CODES[0], None),
        ("S04", "13800000004", "unit_head", None, "1"),
    ]


def test_assumed_crs_is_reported(db_session: Session, tmp_path: Path) -> None:
    path = shapefile(
        tmp_path / "ll.shp", fixture_frame("buildings.geojson").drop(columns="compound"), prj=False
    )
    report = _import(db_session, "buildings", path)
    assert report.count == 4
    assert report.warnings == [
        (
            f"{path} declares no CRS (no .prj file); its coordinates look like longitude/latitude, "
            "so EPSG:4326 was assumed (pass --crs if they are not)."
        )
    ]


def test_missing_code_field_numbers_features_and_warns(db_session: Session, tmp_path: Path) -> None:
    path = geojson(
        tmp_path / "nocode.geojson",
        [
            feature({"名称": "甲"}, box(102.701, 25.061, 102.702, 25.062)),
            feature({"名称": "乙"}, box(102.703, 25.061, 102.704, 25.062)),
        ],
    )
    report = _import(db_session, "compounds", path)
    assert report.boundary_from == "the convex hull of the compounds"
    assert db_session.execute(
        sa.select(Compound.code, Compound.name).order_by(Compound.code)
    ).all() == [("1", "甲"), ("2", "乙")]
    assert report.warnings == [
        (
            f"{path} has no code field (code/id/编码/编号, or --code-field), so the features were "
            "numbered 1 to 2 in file order."
        )
    ]


def test_code_and_name_fields_can_be_named(db_session: Session, tmp_path: Path) -> None:
    path = geojson(
        tmp_path / "g.geojson",
        [
            feature({"BoroCD": 101, "label": "Downtown"}, box(102.70, 25.06, 102.71, 25.07)),
        ],
    )
    _import(db_session, "grids", path, code_field="borocd", name_field="label")
    assert db_session.execute(sa.select(Grid.code, Grid.name)).one() == ("101", "Downtown")
    with pytest.raises(
        InvalidFile,
        match=r"has no field 'nope' \(given for the code\); its fields are: BoroCD, label",
    ):
        _import(db_session, "grids", path, code_field="nope")


def test_building_outside_the_community_is_imported_with_a_warning(
    db_session: Session, tmp_path: Path
) -> None:
    load_fixture(db_session, until="community")
    path = geojson(
        tmp_path / "far.geojson",
        [
            feature({"code": "IN"}, box(102.7015, 25.0615, 102.7020, 25.0620)),
            feature({"code": "OUT"}, box(102.7215, 25.0615, 102.7220, 25.0620)),
        ],
    )
    report = _import(db_session, "buildings", path)
    assert report.count == 2
    assert report.warnings == [
        (
            "feature 2 (building OUT) is not inside the boundary of community KM001; "
            "it was imported anyway"
        )
    ]
    assert "Warnings (1):\n  - feature 2 (building OUT)" in report.summary()


def test_units_without_building_column_are_placed_by_location(
    db_session: Session, tmp_path: Path
) -> None:
    load_fixture(db_session, until="buildings")
    path = geojson(
        tmp_path / "u.geojson",
        [
            feature({"households": 12}, box(102.7125, 25.0615, 102.7130, 25.0617)),
            feature({"households": 12}, box(102.7125, 25.0617, 102.7130, 25.0620)),
        ],
    )
    report = _import(db_session, "units", path)
    assert db_session.execute(
        sa.select(Building.code, Unit.number).join(Building).order_by(Unit.number)
    ).all() == [("B3", "1"), ("B3", "2")]
    assert "numbered 1, 2, ... within each building" in report.warnings[0]


def test_progress_is_reported_every_thousand_features(db_session: Session, tmp_path: Path) -> None:
    features = [
        feature(
            {"code": f"P{i}"},
            box(
                102.7 + (i % 50) * 1e-4,
                25.06 + (i // 50) * 1e-4,
                102.7 + (i % 50) * 1e-4 + 5e-5,
                25.06 + (i // 50) * 1e-4 + 5e-5,
            ),
        )
        for i in range(2500)
    ]
    calls: list[tuple[int, int]] = []
    report = _import(
        db_session,
        "buildings",
        geojson(tmp_path / "many.geojson", features),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert report.count == 2500
    assert calls == [(1000, 2500), (2000, 2500), (2500, 2500)]


def test_kunming_buildings_with_their_compounds(db_session: Session, tmp_path: Path) -> None:
    """140 real footprints; each building's 小区 (OSM tag) becomes its compound."""
    buildings = gpd.read_file(KUNMING)
    hulls = buildings.dissolve("community").convex_hull
    compounds = geojson(
        tmp_path / "compounds.geojson",
        [
            feature({"code": name, "name": name}, mapping(hull)["coordinates"])
            for name, hull in hulls.items()
        ],
    )
    report = _import(db_session, "compounds", compounds, community_code="KM-JJ")
    assert report.count == 16 and report.created_community
    renamed = tmp_path / "buildings.geojson"
    renamed.write_text(
        KUNMING.read_text(encoding="utf-8").replace('"community":', '"compound":'), encoding="utf-8"
    )
    report = _import(db_session, "buildings", renamed, community_code="KM-JJ")
    assert report.count == 140 and not report.warnings
    per_compound = dict(
        db_session.execute(
            sa.select(Compound.name, sa.func.count())
            .join(Building, Building.compound_id == Compound.id)
            .group_by(Compound.name)
        ).all()
    )
    assert per_compound == buildings["community"].value_counts().to_dict()
    assert per_compound["北泰花园"] == 27


# --- refused imports: clear errors, nothing changed ---------------------------------

BadFile = Callable[[Path], Path]


def _truncated(tmp: Path) -> Path:
    text = (SHAPES / "buildings.geojson").read_text(encoding="utf-8")
    path = tmp / "cut.geojson"
    path.write_text(text[:300], encoding="utf-8")
    return path


def _projected_without_prj(tmp: Path) -> Path:
    return shapefile(tmp / "gk.shp", projected_buildings(), prj=False)


def _text_in_coordinates(tmp: Path) -> Path:
    path = tmp / "lamps.csv"
    path.write_text("code,lon,lat\nP1,102.70,25.06\nP2,东经102度,25.06\n", encoding="utf-8")
    return path


def _empty(tmp: Path) -> Path:
    path = tmp / "empty.geojson"
    path.write_text("")
    return path


BAD_FILES: list[tuple[str, str, BadFile, type[GridgisError], list[str]]] = [
    (
        "truncated",
        "buildings",
        _truncated,
        InvalidFile,
        ["cannot be read as GeoJSON", "Unterminated"],
    ),
    (
        "no .prj, projected",
        "buildings",
        _projected_without_prj,
        InvalidFile,
        ["are not longitude/latitude", "no .prj file", "--crs"],
    ),
    (
        "self-intersection",
        "buildings",
        lambda t: buildings_with_bowtie(t / "bowtie.geojson"),
        InvalidGeometry,
        ["feature 2: Self-intersection[102.7046 25.0686]", "--fix"],
    ),
    (
        "text in coordinates",
        "buildings",
        _text_in_coordinates,
        InvalidFile,
        ["row 2 (line 3): column 'lon' holds '东经102度', which is not a number"],
    ),
    ("empty", "buildings", _empty, InvalidFile, ["empty.geojson is empty."]),
    (
        "EPSG:3857 without crs",
        "buildings",
        lambda t: web_mercator_buildings(t / "m.geojson", declare=False),
        InvalidFile,
        [
            "coordinates such as (12735000, 3570000) are not longitude/latitude; "
            "the file declares no CRS"
        ],
    ),
    (
        "unit outside its building",
        "units",
        lambda t: unit_outside_building(t / "u.geojson"),
        InvalidFile,
        ["feature 2: unit '2' lies outside building 'B1'", "at most 0.5 m"],
    ),
]


@pytest.mark.parametrize(
    ("layer", "make", "error", "phrases"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES]
)
def test_bad_file_is_refused_and_changes_nothing(
    db_session: Session,
    tmp_path: Path,
    layer: str,
    make: BadFile,
    error: type[GridgisError],
    phrases: list[str],
) -> None:
    load_fixture(db_session, until="units")
    path = make(tmp_path)
    before = counts(db_session)
    with pytest.raises(error) as caught:
        _import(db_session, layer, path)
    text = str(caught.value)
    assert str(path) in caught.value.user_msg
    for phrase in phrases:
        assert phrase in text
    assert counts(db_session) == before


def test_fix_repairs_the_bow_tie_and_reports_it(db_session: Session, tmp_path: Path) -> None:
    report = _import(
        db_session, "buildings", buildings_with_bowtie(tmp_path / "b.geojson"), fix=True
    )
    assert report.count == 3
    assert report.fixes[0].startswith(
        "feature 2: Self-intersection[102.7046 25.0686] repaired; area "
    )
    assert "Repaired (1):\n  - feature 2: Self-intersection" in report.summary()
    assert db_session.scalar(sa.text("SELECT bool_and(ST_IsValid(geom)) FROM building"))


def test_every_problem_is_reported_at_once(db_session: Session, tmp_path: Path) -> None:
    load_fixture(db_session, until="buildings")
    path = geojson(
        tmp_path / "b.geojson",
        [
            feature(
                {"code": "N1", "compound": "C9", "floors": "十"},
                box(102.7041, 25.0661, 102.7046, 25.0666),
            ),
            feature({"code": "N1"}, box(102.7051, 25.0661, 102.7056, 25.0666)),
            feature({"code": "B1", "households": -3}, box(102.7061, 25.0661, 102.7066, 25.0666)),
            feature({"code": None}, box(102.7071, 25.0661, 102.7076, 25.0666)),
        ],
    )
    before = counts(db_session)
    with pytest.raises(InvalidFile) as caught:
        _import(db_session, "buildings", path)
    assert caught.value.user_msg == (
        f"{path}: 6 problem(s) found, so no buildings were imported; correct the file and "
        "import it again."
    )
    assert sorted(caught.value.details) == sorted(
        [
            "feature 1: floors '十' is not a number",
            "feature 3: households -3 is negative",
            "feature 4: no code",
            "code 'N1' appears 2 times: feature 1, feature 2",
            "feature 3: building code 'B1' is already used in community KM001",
            "feature 1: compound 'C9' is not a compound of community KM001",
        ]
    )
    assert counts(db_session) == before


def test_unknown_property_company_is_listed(db_session: Session, tmp_path: Path) -> None:
    path = geojson(
        tmp_path / "c.geojson",
        [
            feature(
                {"code": "C1", "property_company": "WY99"}, box(102.701, 25.061, 102.705, 25.065)
            ),
            feature(
                {"code": "C2", "owners_committee": "maybe"}, box(102.711, 25.061, 102.715, 25.065)
            ),
        ],
    )
    with pytest.raises(InvalidFile) as caught:
        _import(db_session, "compounds", path)
    assert caught.value.details == [
        "feature 2: owners_committee 'maybe' is not yes/no (use true/false, 1/0 or 是/否)",
        (
            "property_company 'WY99' (feature 1) is not a department code; add the property "
            "company as a department first"
        ),
    ]
    assert counts(db_session)["community"] == 0


def test_units_need_an_existing_community(db_session: Session) -> None:
    with pytest.raises(NotFound, match="No community with code 'KM001'; import its buildings"):
        _import(db_session, "units", SHAPES / "units.geojson")


def test_staff_problems_are_listed_together(db_session: Session, tmp_path: Path) -> None:
    load_fixture(db_session, until="units")
    path = tmp_path / "staff.csv"
    path.write_text(
        "code,name,phone,role,grid,building,unit,team,on_duty\n"
        f"S01,甲,,grid_worker,{GRID_CODES[0]},,,,\n"
        f"S02,乙,,grid_worker,{GRID_CODES[0]},,,,\n"
        "S03,丙,,captain,,,,,\n"
        f"S04,丁,,volunteer,{GRID_CODES[1]},,,purple,\n"
        "S05,戊,,unit_head,,B1,9,,\n"
        "S06,己,,building_head,,B9,,,\n"
        "S01,甲2,,part_time_worker,999,,,,\n",
        encoding="utf-8",
    )
    before = counts(db_session)
    with pytest.raises(InvalidFile) as caught:
        _import(db_session, "staff", path)
    assert caught.value.details == [
        (
            "row 7 (line 8): staff 'S01' has a different name or phone than in row 1 (line 2); "
            "one person, one code"
        ),
        (
            "row 3 (line 4): role 'captain' is not one of grid_worker, part_time_worker, "
            "building_head, unit_head, volunteer"
        ),
        (
            "row 4 (line 5): a volunteer needs a team, one of red, blue, green, orange, white "
            "(got 'purple')"
        ),
        "row 5 (line 6): building 'B1' has no unit '9'",
        "row 6 (line 7): building 'B9' is not a building of community KM001",
        "row 7 (line 8): grid '999' is not in layout '2026版'",
        "row 2 (line 3): the grid already has a grid_worker (row 1 (line 2))",
    ]
    assert counts(db_session) == before


def test_database_refusal_becomes_a_clear_error_and_the_session_survives(
    db_session: Session, tmp_path: Path
) -> None:
    # 3,000,000,000 floors passes the file checks but not PostgreSQL's integer.
    path = geojson(
        tmp_path / "tall.geojson",
        [
            feature(
                {"code": "T1", "floors": 3_000_000_000}, box(102.7041, 25.0661, 102.7046, 25.0666)
            ),
        ],
    )
    before = counts(db_session)
    with pytest.raises(InvalidFile) as caught:
        _import(db_session, "buildings", path)
    assert caught.value.user_msg.startswith(f"{path}: a value breaks the database rule")
    assert "nothing was imported" in caught.value.user_msg
    assert counts(db_session) == before  # the savepoint rolled back; the session still works
