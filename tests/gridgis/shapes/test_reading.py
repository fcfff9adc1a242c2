"""Reading shape files (gridgis.shapes.reading): every format in, every bad file refused clearly.

No database here: what a planner sees is the GeoDataFrame or the error text.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import openpyxl
import pyogrio
import pytest
import shapely

from gridgis.errors import InvalidFile, InvalidGeometry, InvalidInput
from gridgis.shapes.reading import read_shapes
from tests.support.shape_files import (
    BOWTIE,
    SHAPES,
    box,
    buildings_with_bowtie,
    feature,
    fixture_frame,
    geojson,
    projected_buildings,
    same_geometry,
    shapefile,
    web_mercator_buildings,
)

B1 = shapely.box(102.7015, 25.0615, 102.7020, 25.0620)
#: Five work orders in GB18030 with 经度/纬度 columns; tests/gridgis/routing routes the same file.
HOTLINE_GB18030 = SHAPES.parent / "tables" / "hotline_gb18030.csv"


def xlsx(path: Path, frame: gpd.GeoDataFrame, sheet: str = "buildings") -> Path:
    """The frame as a workbook as an office saves it: numbers as numbers, WKT as text."""
    frame.assign(wkt=frame.geometry.to_wkt()).drop(columns="geometry").to_excel(
        path, index=False, sheet_name=sheet
    )
    return path


def _near_b1(geom: shapely.Geometry) -> bool:
    """B1 after a round trip through projected metres (vertex order may change)."""
    return shapely.normalize(geom).equals_exact(shapely.normalize(shapely.MultiPolygon([B1])), 1e-8)


def _zip(path: Path, shp: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for part in shp.parent.glob(shp.stem + ".*"):
            archive.write(part, f"data/{part.name}")
    return path


@pytest.fixture
def fixture_files(tmp_path: Path) -> dict[str, Path]:
    """The fixture buildings in every format gridgis reads."""
    frame = fixture_frame("buildings.geojson")
    shp = shapefile(tmp_path / "buildings.shp", frame)
    gpkg = tmp_path / "buildings.gpkg"
    pyogrio.write_dataframe(frame, str(gpkg), layer="buildings")
    csv = tmp_path / "buildings.csv"
    frame.assign(wkt=frame.geometry.to_wkt()).drop(columns="geometry").to_csv(csv, index=False)
    return {
        "geojson": SHAPES / "buildings.geojson",
        "shp": shp,
        "zip": _zip(tmp_path / "buildings.zip", shp),
        "gpkg": gpkg,
        "csv": csv,
        "xlsx": xlsx(tmp_path / "buildings.xlsx", frame),
    }


ROW_LABELS = {
    "csv": ["row 1 (line 2)", "row 2 (line 3)"],
    "xlsx": ["row 1 (sheet buildings, row 2)", "row 2 (sheet buildings, row 3)"],
}


@pytest.mark.parametrize("kind", ["geojson", "shp", "zip", "gpkg", "csv", "xlsx"])
def test_every_format_reads_to_multipolygons_in_wgs84(
    fixture_files: dict[str, Path], kind: str
) -> None:
    shapes = read_shapes(fixture_files[kind])
    frame = shapes.frame
    assert len(frame) == 4
    assert frame.crs.to_epsg() == 4326
    assert set(frame.geom_type) == {"MultiPolygon"}
    assert [str(c) for c in frame["code"]] == ["B1", "B2", "B3", "B4"]
    assert list(frame["name"])[:3] == ["金色年华1栋", "金色年华2栋", "翠苑1栋"]
    assert same_geometry(frame.geometry.iloc[0], shapely.MultiPolygon([B1]))
    assert shapes.labels[:2] == ROW_LABELS.get(kind, ["feature 1", "feature 2"])
    assert shapes.warnings == [] and shapes.fixes == []


def test_csv_with_bom_crlf_and_quoted_newlines() -> None:
    shapes = read_shapes(SHAPES / "buildings_wkt.csv")
    frame = shapes.frame
    assert list(frame.columns) == ["code", "name", "address", "floors", "households", "geometry"]
    assert list(frame["code"]) == ["B1", "B2"]  # no BOM glued to the first header
    assert frame["address"][0] == "金江路1号\r\n1栋"
    assert frame["name"][1] == "金色年华2栋, 东"
    assert shapes.labels == ["row 1 (line 2)", "row 2 (line 4)"]  # row 1 spans two lines
    assert same_geometry(frame.geometry[0], shapely.MultiPolygon([B1]))


def test_csv_lon_lat_columns_give_points_case_insensitively() -> None:
    shapes = read_shapes(SHAPES / "points_lonlat.csv", polygons=False)
    assert [p.coords[0] for p in shapes.frame.geometry] == [
        (102.7015, 25.0615),
        (102.7125, 25.0617),
    ]
    assert list(shapes.frame.columns) == ["id", "Name", "LNG", "Lat", "geometry"]


def test_points_are_refused_for_a_polygon_layer() -> None:
    with pytest.raises(InvalidGeometry) as caught:
        read_shapes(SHAPES / "points_lonlat.csv")
    assert "points_lonlat.csv" in caught.value.user_msg
    assert caught.value.details[0] == "row 1 (line 2): is a Point, but this layer needs polygons"


def test_text_in_a_coordinate_column_names_row_column_and_value(tmp_path: Path) -> None:
    path = tmp_path / "lamps.csv"
    path.write_text("code,lon,lat\nP1,102.7,25.06\nP2,102.71,北纬25度\n", encoding="utf-8")
    with pytest.raises(InvalidFile) as caught:
        read_shapes(path, polygons=False)
    assert str(path) in caught.value.user_msg
    assert caught.value.details == [
        "row 2 (line 3): column 'lat' holds '北纬25度', which is not a number"
    ]


def test_bad_wkt_is_named(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text('code,wkt\nA,"POLYGON ((1 1, 2 1, 2 2, 1 1))"\nB,"POLYGN ((1 1))"\n')
    with pytest.raises(InvalidGeometry) as caught:
        read_shapes(path)
    assert caught.value.details[0].startswith(
        "row 2 (line 3): column 'wkt' holds 'POLYGN ((1 1))', which is not WKT"
    )


def test_csv_without_geometry_columns_lists_what_it_has(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("code,name\nA,a\n")
    with pytest.raises(
        InvalidFile, match=r"has no geometry: expected a WKT column .*columns are: code, name"
    ):
        read_shapes(path)


def test_gb18030_csv_reads_like_its_utf8_twin(tmp_path: Path) -> None:
    # The fixture as Excel saves it on a Chinese Windows desktop: GB18030, no BOM.
    text = (SHAPES / "buildings_wkt.csv").read_bytes().decode("utf-8-sig")
    path = tmp_path / "gb18030.csv"
    path.write_bytes(text.encode("gb18030"))
    frame = read_shapes(path).frame
    assert list(frame["name"]) == ["金色年华1栋", "金色年华2栋, 东"]
    assert frame["address"][0] == "金江路1号\r\n1栋"
    assert same_geometry(frame.geometry[0], shapely.MultiPolygon([B1]))


def test_gb18030_csv_with_jingdu_weidu_columns_gives_points() -> None:
    shapes = read_shapes(HOTLINE_GB18030, polygons=False)
    assert [p.coords[0] for p in shapes.frame.geometry] == [
        (114.30105, 30.50105),
        (114.3003, 30.508),
        (114.3051, 30.502),
        (114.30505, 30.508),
        (114.40, 30.60),
    ]
    assert list(shapes.frame["诉求内容"])[:2] == [
        "车辆停在人行道上，\r\n堵住单元门",
        "𠮷女士反映楼道灯坏了",
    ]
    assert shapes.labels[:2] == ["row 1 (line 2)", "row 2 (line 4)"]  # row 1 spans two lines


def test_csv_in_neither_utf8_nor_gb18030_says_how_to_save_it(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("code,name,wkt\nA,Café,POINT (1 1)\n".encode("latin-1"))
    with pytest.raises(
        InvalidFile, match=r"latin1.csv is neither UTF-8 nor GB18030 text .*CSV UTF-8"
    ):
        read_shapes(path)


def test_xlsx_lon_lat_points_and_bad_cells_named_by_sheet_row(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "路灯"
    for row in (["编号", "经度", "纬度"], ["P1", 102.7015, 25.0615], ["P2", "东经102度", 25.06]):
        ws.append(row)
    book.save(tmp_path / "lamps.xlsx")
    with pytest.raises(InvalidFile) as caught:
        read_shapes(tmp_path / "lamps.xlsx", polygons=False)
    assert caught.value.details == [
        "row 2 (sheet 路灯, row 3): column '经度' holds '东经102度', which is not a number"
    ]
    ws["B3"] = 102.7125
    book.save(tmp_path / "lamps.xlsx")
    shapes = read_shapes(tmp_path / "lamps.xlsx", polygons=False)
    assert [p.coords[0] for p in shapes.frame.geometry] == [(102.7015, 25.0615), (102.7125, 25.06)]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.geojson", "", "empty.geojson is empty."),
        ("empty.csv", "", "empty.csv is empty."),
        ("header.csv", "code,wkt\n", "header.csv has a header but no rows."),
        (
            "none.geojson",
            '{"type": "FeatureCollection", "features": []}',
            "none.geojson has no features.",
        ),
    ],
)
def test_empty_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InvalidFile) as caught:
        read_shapes(path)
    assert caught.value.user_msg == f"{tmp_path}/{message}"


def test_truncated_geojson_says_where_it_breaks(tmp_path: Path) -> None:
    whole = (SHAPES / "buildings.geojson").read_text(encoding="utf-8")
    path = tmp_path / "cut.geojson"
    path.write_text(whole[: len(whole) // 2], encoding="utf-8")
    with pytest.raises(InvalidFile) as caught:
        read_shapes(path)
    msg = caught.value.user_msg
    assert msg.startswith(f"{path} cannot be read as GeoJSON (truncated or malformed?)")
    assert "line" in msg and "Unterminated" in msg


def test_missing_and_non_polygon_geometry_listed_by_feature(tmp_path: Path) -> None:
    path = geojson(
        tmp_path / "mixed.geojson",
        [
            feature({"code": "A"}, box(102.70, 25.06, 102.71, 25.07)),
            feature({"code": "B"}, None),
            feature({"code": "C"}, [[102.7, 25.06], [102.71, 25.07]], "LineString"),
        ],
    )
    with pytest.raises(InvalidGeometry) as caught:
        read_shapes(path)
    assert caught.value.details == [
        "feature 2: no geometry",
        "feature 3: is a LineString, but this layer needs polygons",
    ]


def test_self_intersection_refused_with_feature_and_reason(tmp_path: Path) -> None:
    path = buildings_with_bowtie(tmp_path / "bowtie.geojson")
    with pytest.raises(InvalidGeometry) as caught:
        read_shapes(path)
    assert str(path) in caught.value.user_msg and "--fix" in caught.value.user_msg
    assert caught.value.details == ["feature 2: Self-intersection[102.7046 25.0686]"]


def test_fix_repairs_and_reports_the_area_change(tmp_path: Path) -> None:
    shapes = read_shapes(buildings_with_bowtie(tmp_path / "bowtie.geojson"), fix=True)
    (line,) = shapes.fixes
    assert line.startswith("feature 2: Self-intersection[102.7046 25.0686] repaired; area ")
    assert line.endswith(" m²") and "→" in line
    repaired = shapes.frame.geometry.iloc[1]
    assert repaired.is_valid and repaired.geom_type == "MultiPolygon" and len(repaired.geoms) == 2


def test_geojson_in_web_mercator_without_crs_member_is_refused(tmp_path: Path) -> None:
    path = web_mercator_buildings(tmp_path / "m.geojson", declare=False)
    with pytest.raises(InvalidFile) as caught:
        read_shapes(path)
    assert caught.value.user_msg.startswith(
        f"{path}: coordinates such as (12735000, 3570000) are not longitude/latitude; "
        "the file declares no CRS — pass --crs EPSG:XXXX"
    )


def test_crs_option_declares_the_source_crs(tmp_path: Path) -> None:
    path = web_mercator_buildings(tmp_path / "m.geojson", declare=False)
    shapes = read_shapes(path, crs="EPSG:3857")
    assert shapes.source_crs == "EPSG:3857"
    x, y = shapely.get_coordinates(shapes.frame.geometry.iloc[0])[0]
    assert x == pytest.approx(114.4004514, abs=1e-6) and y == pytest.approx(30.5156071, abs=1e-6)


def test_declared_crs_member_is_honoured(tmp_path: Path) -> None:
    shapes = read_shapes(web_mercator_buildings(tmp_path / "m.geojson", declare=True))
    assert shapes.source_crs == "EPSG:3857"
    assert shapes.frame.total_bounds[0] == pytest.approx(114.40045, abs=1e-5)


def test_projected_shapefile_with_prj_is_reprojected(tmp_path: Path) -> None:
    shapes = read_shapes(shapefile(tmp_path / "gk.shp", projected_buildings()))
    assert shapes.source_crs == "EPSG:4543"
    assert _near_b1(shapes.frame.geometry.iloc[0])
    assert shapes.warnings == []


def test_shapefile_without_prj_and_projected_coordinates_is_refused(tmp_path: Path) -> None:
    path = shapefile(tmp_path / "gk.shp", projected_buildings(), prj=False)
    with pytest.raises(InvalidFile) as caught:
        read_shapes(path)
    msg = caught.value.user_msg
    assert msg.startswith(f"{path}: coordinates such as (")
    assert "are not longitude/latitude; the file declares no CRS (no .prj file) — pass --crs" in msg
    # ... and with --crs it goes in.
    assert _near_b1(read_shapes(path, crs="EPSG:4543").frame.geometry.iloc[0])


def test_shapefile_without_prj_and_lon_lat_coordinates_is_accepted_with_a_warning(
    tmp_path: Path,
) -> None:
    path = shapefile(tmp_path / "ll.shp", fixture_frame("buildings.geojson"), prj=False)
    shapes = read_shapes(path)
    assert len(shapes.frame) == 4 and shapes.frame.crs.to_epsg() == 4326
    assert shapes.warnings == [
        (
            f"{path} declares no CRS (no .prj file); its coordinates look like longitude/latitude, "
            "so EPSG:4326 was assumed (pass --crs if they are not)."
        )
    ]


def test_wrong_crs_option_is_caught_by_the_coordinates(tmp_path: Path) -> None:
    path = shapefile(tmp_path / "gk.shp", projected_buildings())
    with pytest.raises(InvalidFile, match="--crs EPSG:4326 says they are"):
        read_shapes(path, crs="EPSG:4326")


def test_unknown_crs_option() -> None:
    with pytest.raises(
        InvalidInput, match="--crs 'EPSG:99999999' is not a coordinate reference system"
    ):
        read_shapes(SHAPES / "buildings.geojson", crs="EPSG:99999999")


def test_z_is_dropped(tmp_path: Path) -> None:
    ring = [
        [102.70, 25.06, 1900.0],
        [102.71, 25.06, 1900.0],
        [102.71, 25.07, 1901.0],
        [102.70, 25.06, 1900.0],
    ]
    shapes = read_shapes(geojson(tmp_path / "z.geojson", [feature({"code": "Z"}, [ring])]))
    geom = shapes.frame.geometry.iloc[0]
    assert not geom.has_z and shapely.get_coordinates(geom)[0].tolist() == [102.70, 25.06]


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "a.kml").write_text("<kml/>")
    with pytest.raises(InvalidFile, match=r"a.kml: unknown format '.kml'; use GeoJSON"):
        read_shapes(tmp_path / "a.kml")
    with pytest.raises(InvalidFile, match=r"nope\.geojson does not exist"):
        read_shapes(tmp_path / "nope.geojson")


def test_zip_must_hold_one_shapefile(tmp_path: Path) -> None:
    frame = fixture_frame("buildings.geojson")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        for stem in ("a", "b"):
            shp = shapefile(tmp_path / f"{stem}.shp", frame)
            for part in tmp_path.glob(f"{stem}.*"):
                archive.write(part, part.name)
    with pytest.raises(
        InvalidFile, match=r"two.zip must hold exactly one Shapefile .*found: a.shp, b.shp"
    ):
        read_shapes(tmp_path / "two.zip")
    assert shp.exists()


def test_geopackage_with_several_layers_picks_the_layer_named_like_the_import(
    tmp_path: Path,
) -> None:
    path = tmp_path / "all.gpkg"
    pyogrio.write_dataframe(fixture_frame("grids.geojson"), str(path), layer="grids")
    pyogrio.write_dataframe(fixture_frame("buildings.geojson"), str(path), layer="buildings")
    assert len(read_shapes(path, layer="buildings").frame) == 4
    with pytest.raises(InvalidFile, match=r"holds 2 layers \(grids, buildings\)"):
        read_shapes(path, layer="units")


def test_cgcs2000_goes_in_as_wgs84(tmp_path: Path) -> None:
    path = tmp_path / "cgcs2000.gpkg"
    frame = fixture_frame("buildings.geojson").set_crs("EPSG:4490", allow_override=True)
    pyogrio.write_dataframe(frame, str(path))
    shapes = read_shapes(path)
    assert shapes.source_crs == "EPSG:4490" and shapes.warnings == []
    assert _near_b1(shapes.frame.geometry.iloc[0])


def test_long_problem_lists_are_capped(tmp_path: Path) -> None:
    path = geojson(tmp_path / "many.geojson", [feature({"code": i}, [BOWTIE]) for i in range(150)])
    with pytest.raises(InvalidGeometry) as caught:
        read_shapes(path)
    assert caught.value.user_msg.startswith(f"{path}: 150 feature(s) have invalid geometry")
    assert len(caught.value.details) == 101 and caught.value.details[-1] == "... and 50 more"
