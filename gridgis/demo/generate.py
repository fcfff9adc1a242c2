"""The demo community 南湖社区 (Nanhu community), generated reproducibly.

A made-up but realistic urban community in Wuhan, Hongshan district (洪山区,
420111), on the north shore of 南湖: four residential compounds (小区), a
commercial street (商业街), an urban village (城中村), the roads between them,
nine grids (网格) that tile the community, every grid's "1+1+1+N" staff team,
the joint-enforcement departments, a dozen incident categories, and the
households of every unit with the visits already logged to them
(:mod:`gridgis.demo.households`), and the grid teams' rounds (四进) of the
last three months (:mod:`gridgis.demo.rounds`).

The map is laid out by hand in local metres (see :mod:`gridgis.demo.geometry`);
the seed only decides the urban village's irregular houses and the staff's names
and phones. ``gridgis demo generate`` rewrites ``data/shapes``.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

from shapely import unary_union
from shapely.geometry import LineString, Polygon, box

from gridgis.config import PROJECT_ROOT
from gridgis.demo import households as demo_households
from gridgis.demo import rounds as demo_rounds
from gridgis.demo.geometry import (
    Footprint,
    Point,
    Ring,
    feature,
    footprint,
    line_geometry,
    node_rings,
    polygon_geometry,
    rectangle,
    shapely_geometry,
    write_feature_collection,
)

SHAPES_DIR = PROJECT_ROOT / "data" / "shapes"
DEFAULT_SEED = 20261129

COMMUNITY_CODE = "420111003012"  # district(6) + street(3) + community(3)
COMMUNITY_NAME = "南湖社区"
COMMUNITY_BAND = {"gap_tolerance_m": 30, "households_min": 300, "households_max": 500}

# --- the map, local metres: x east, y north, origin at the south-west corner ---
X_RENHE, X_LIJING, Y_NANHU, WIDTH, HEIGHT = 400, 610, 340, 820, 680
#: The lake shore, west to east; the community's southern edge.
SHORE: list[Point] = [
    (0, 45),
    (60, 35),
    (150, 15),
    (240, 8),
    (330, 20),
    (400, 12),
    (470, 5),
    (560, 10),
    (610, 18),
    (650, 25),
    (740, 40),
    (820, 70),
]

ROADS: list[tuple[str, int, list[Point]]] = [  # name, width in metres, centre line
    ("雄楚大道", 40, [(0, HEIGHT), (WIDTH, HEIGHT)]),
    ("南湖路", 24, [(0, Y_NANHU), (WIDTH, Y_NANHU)]),
    ("仁和南路", 30, [(X_RENHE, 12), (X_RENHE, HEIGHT)]),
    ("书城路", 20, [(0, 45), (0, HEIGHT)]),
    ("丁字桥南路", 20, [(WIDTH, 70), (WIDTH, HEIGHT)]),
    ("丽景路", 12, [(X_LIJING, Y_NANHU), (X_LIJING, HEIGHT)]),
    ("何家湾巷", 6, [(X_LIJING, 18), (X_LIJING, Y_NANHU)]),
    ("文馨街", 16, [(0, 140), (X_RENHE, 140)]),
    ("沿湖路", 10, SHORE),
]


def _south_grid(x0: int, x1: int) -> Ring:
    return [p for p in SHORE if x0 <= p[0] <= x1] + [(x1, Y_NANHU), (x0, Y_NANHU)]


#: Grid boundaries follow 仁和南路, 南湖路 and 丽景路/何家湾巷; the big compounds
#: are cut between rows of buildings.
GRID_RINGS: list[Ring] = [
    rectangle(0, 560, X_RENHE, HEIGHT),  # 南湖中央花园, north
    rectangle(0, 450, X_RENHE, 560),  # 南湖中央花园, middle
    rectangle(0, Y_NANHU, X_RENHE, 450),  # 南湖中央花园, south
    rectangle(X_RENHE, 500, X_LIJING, HEIGHT),  # 丽景小区, north
    rectangle(X_RENHE, Y_NANHU, X_LIJING, 500),  # 丽景小区, south
    rectangle(X_LIJING, Y_NANHU, WIDTH, HEIGHT),  # 华锦苑
    _south_grid(0, X_RENHE),  # 书香门第 and 文馨街
    _south_grid(X_RENHE, X_LIJING),  # 何家湾村, west of the lane
    _south_grid(X_LIJING, WIDTH),  # 何家湾村, east of the lane
]
GRID_NAMES = [
    "第一网格",
    "第二网格",
    "第三网格",
    "第四网格",
    "第五网格",
    "第六网格",
    "第七网格",
    "第八网格",
    "第九网格",
]


@dataclass(frozen=True)
class Compound:
    code: str
    name: str
    ring: Ring
    property_company: str | None
    owners_committee: bool
    address: str
    #: rows of (y0, depth, x0s, length, floors, units, households per floor)
    rows: tuple[tuple[int, int, tuple[int, ...], int, int, int, int], ...]


COMPOUNDS = [
    Compound(
        "C01",
        "南湖中央花园",
        rectangle(15, 357, 380, 655),
        "guotai_property",
        True,
        "仁和南路18号",
        (
            (622, 12, (30, 120, 210, 300), 55, 11, 3, 2),
            (578, 12, (30, 120, 210, 300), 55, 7, 3, 2),
            (514, 12, (30, 300), 55, 7, 3, 2),
            (510, 20, (140, 230), 25, 24, 2, 2),  # two towers by the central garden
            (468, 12, (30, 120, 210, 300), 55, 7, 3, 2),
            (412, 12, (25, 115, 205, 295), 60, 11, 4, 2),
            (368, 12, (30, 120, 210, 300), 55, 6, 3, 2),
        ),
    ),
    Compound(
        "C02",
        "丽景小区",
        rectangle(420, 357, 599, 655),
        "lijing_wanda_property",
        False,
        "丽景路9号",
        (
            (606, 12, (428, 538), 52, 18, 3, 2),
            (562, 12, (428, 538), 52, 11, 3, 2),
            (518, 12, (428, 538), 52, 11, 3, 2),
            (456, 12, (428, 538), 52, 11, 3, 2),
            (412, 12, (428, 538), 52, 11, 3, 2),
            (368, 12, (428, 538), 52, 11, 3, 2),
        ),
    ),
    Compound(
        "C03",
        "华锦苑",
        rectangle(621, 357, 805, 655),
        "lijing_wanda_property",
        False,
        "丁字桥南路120号",
        (
            (600, 20, (650, 740), 25, 18, 1, 3),
            (530, 20, (650, 740), 25, 17, 2, 2),
            (460, 20, (650, 740), 25, 18, 1, 3),
            (390, 20, (650, 740), 25, 17, 2, 2),
        ),
    ),
    Compound(
        "C04",
        "书香门第",
        rectangle(15, 175, 380, 323),
        "guotai_property",
        False,
        "书城路36号",
        (
            (280, 12, (30, 150, 270), 48, 6, 3, 2),
            (235, 12, (30, 150, 270), 48, 6, 3, 2),
            (190, 12, (30, 150, 270), 48, 6, 3, 2),
        ),
    ),
]

#: 文馨街 shop buildings: (side y0, address numbers start, lengths west to east).
SHOP_ROWS = [
    (153, 2, (24, 18, 30, 18, 24, 30, 18, 24, 30, 18, 24, 18, 30)),
    (113, 1, (30, 18, 24, 18, 30, 24, 18, 30)),
]
SHOP_DEPTH, SHOP_GAP, SHOP_X0 = 14, 3, 22
#: Dense cores of 何家湾村, one per grid; houses sit on a jittered 17 × 19 m lattice.
VILLAGE_CORES = [(418, 205, 603, 323), (614, 205, 806, 323)]
VILLAGE_NAME = "何家湾村"


@dataclass
class Building:
    code: str
    name: str
    address: str
    floors: int
    households_per_floor: int
    compound: str | None
    kind: str
    shape: Footprint
    grid: str = ""

    @property
    def unit_households(self) -> int:
        return self.floors * self.households_per_floor

    @property
    def households(self) -> int:
        return self.unit_households * len(self.shape.units)


def _compound_buildings() -> list[Building]:
    out = []
    for c in COMPOUNDS:
        n = 0
        for y0, depth, x0s, length, floors, units, hpf in c.rows:
            for x0 in x0s:
                n += 1
                shape = footprint((x0 + length / 2, y0 + depth / 2), length, depth, units)
                out.append(
                    Building(
                        "",
                        f"{c.name}{n}栋",
                        f"{c.address}{c.name}{n}栋",
                        floors,
                        hpf,
                        c.code,
                        "residential",
                        shape,
                    )
                )
    return out


def _shop_buildings() -> list[Building]:
    out = []
    for y0, number, lengths in SHOP_ROWS:
        x = SHOP_X0
        for i, length in enumerate(lengths):
            shape = footprint(
                (x + length / 2, y0 + SHOP_DEPTH / 2), length, SHOP_DEPTH, 1 if length < 24 else 2
            )
            name = f"文馨街{number}号"
            out.append(Building("", name, name, 2 + i % 2, 2, None, "commercial", shape))
            x += length + SHOP_GAP
            number += 2  # odd numbers on one side of the street, even on the other
    return out


def _village_buildings(rng: random.Random) -> list[Building]:
    placed: list[Polygon] = []
    out = []
    for x0, y0, x1, y1 in VILLAGE_CORES:
        core = box(x0, y0, x1, y1)
        for row in range(int((y1 - y0) // 19) - 1, -1, -1):
            for col in range(int((x1 - x0) // 17)):
                if rng.random() < 0.3:  # lanes and yards
                    continue
                for _attempt in range(12):
                    centre = (
                        round(x0 + 8.5 + 17 * col + rng.uniform(-2, 2), 2),
                        round(y0 + 9.5 + 19 * row + rng.uniform(-2, 2), 2),
                    )
                    shape = footprint(
                        centre,
                        rng.choice(range(22, 30)) / 2,
                        rng.choice(range(20, 26)) / 2,
                        1,
                        angle_deg=round(rng.uniform(-9, 9), 1),
                    )
                    poly = shape.polygon
                    if core.contains(poly) and all(poly.distance(p) >= 1.5 for p in placed):
                        break
                else:
                    continue
                placed.append(poly)
                name = f"{VILLAGE_NAME}{len(placed)}号"
                out.append(
                    Building(
                        "",
                        name,
                        f"南湖路{name}",
                        rng.randint(3, 5),
                        rng.randint(2, 3),
                        None,
                        "village",
                        shape,
                    )
                )
    return out


# --- people and partners ---------------------------------------------------------
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡"
    "蒋余于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方邹熊白孟秦邱江尹"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红建国志文俊海燕鹏辉"
    "飞宇浩然婷雪梅琳晨欣佳怡子涵博文斌林春梅新民德胜秋菊凤云晓东立荣"
)
MOBILE_PREFIXES = (
    [f"13{d}" for d in range(10)]
    + ["150", "151", "152", "153", "155", "156", "157", "158", "159"]
    + [f"18{d}" for d in range(10)]
)
TEAMS = ["red", "blue", "green", "orange", "white"]  # 红色先锋 蓝色网格 绿色老兵 橙色老年 白色医疗
STAFF_FIELDS = ["code", "name", "phone", "role", "grid", "building", "unit", "team", "on_duty"]
#: Off duty, so that routing has someone to skip: (grid index, role, team).
OFF_DUTY = {(1, "grid_worker", ""), (4, "volunteer", "white")}

DEPARTMENTS = [  # code, name, kind, phone
    ("urban_management", "城管执法局", "urban_management", "027-87390110"),
    ("traffic_police", "交警队", "traffic_police", "027-87390122"),
    ("sanitation", "环卫所", "sanitation", "027-87390133"),
    ("tobacco", "烟草专卖局", "tobacco", "027-87390144"),
    ("lijing_wanda_property", "丽景万达物业", "property_company", "027-87390155"),
    ("guotai_property", "国泰物业", "property_company", "027-87390166"),
]
CATEGORIES = [  # code, 中文, English, response h, resolution h, departments, team, is_property
    (
        "parking",
        "违停",
        "Illegal parking",
        1,
        4,
        ["traffic_police", "urban_management"],
        None,
        False,
    ),
    ("sanitation", "环境卫生", "Sanitation", 2, 24, ["sanitation"], None, False),
    ("shopfront", "门前六包", "Shop-front duties", 2, 24, ["urban_management"], None, False),
    ("noise", "噪音扰民", "Noise nuisance", 1, 24, [], None, False),
    ("repair", "设施报修", "Facility repair", 4, 72, [], None, True),
    ("property", "物业纠纷", "Property management dispute", 24, 168, [], None, True),
    ("elderly_help", "助老服务", "Help for the elderly", 2, 24, [], "orange", False),
    ("medical_help", "医疗救助", "Medical help", 1, 6, [], "white", False),
    (
        "illegal_construction",
        "违章搭建",
        "Illegal construction",
        24,
        240,
        ["urban_management"],
        None,
        False,
    ),
    (
        "illegal_vending",
        "占道经营",
        "Illegal street vending",
        2,
        24,
        ["urban_management"],
        None,
        False,
    ),
    (
        "tobacco_minors",
        "向未成年人售烟",
        "Tobacco sales to minors",
        24,
        120,
        ["tobacco"],
        None,
        False,
    ),
    ("neighbour_dispute", "邻里纠纷", "Neighbour dispute", 24, 168, [], None, False),
]


class _People:
    """Hands out distinct fake names and mobile numbers from the seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.names: set[str] = set()
        self.phones: set[str] = set()
        self.count = 0

    def new(self) -> tuple[str, str, str]:
        name = phone = ""
        while not name or name in self.names:
            given = "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2, 2))))
            name = self.rng.choice(SURNAMES) + given
        while not phone or phone in self.phones:
            phone = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
        self.names.add(name)
        self.phones.add(phone)
        self.count += 1
        return f"S{self.count:04d}", name, phone


def _staff(
    grid_codes: list[str], buildings: list[Building], rng: random.Random
) -> list[dict[str, str]]:
    people = _People(rng)
    rows: list[dict[str, str]] = []
    extra_teams = 0

    def add(person: tuple[str, str, str], role: str, **where: str) -> None:
        rows.append(
            {"code": person[0], "name": person[1], "phone": person[2], "role": role, **where}
        )

    for g, grid in enumerate(grid_codes):
        off = {(role, team) for i, role, team in OFF_DUTY if i == g}
        for role in ("grid_worker", "part_time_worker"):
            add(people.new(), role, grid=grid, off=str((role, "") in off))
        for b in (b for b in buildings if b.grid == grid):
            head = people.new()
            add(head, "building_head", building=b.code)
            doubles = b.kind == "village" or rng.random() < 0.5
            for n in range(1, len(b.shape.units) + 1):
                add(
                    head if doubles and n == 1 else people.new(),
                    "unit_head",
                    building=b.code,
                    unit=str(n),
                )
        teams = ["orange", "white"]  # every grid can send help to the elderly and the sick
        for _ in range(1 + rng.randrange(3)):
            teams.append(TEAMS[extra_teams % 3])
            extra_teams += 1
        for team in teams:
            add(
                people.new(), "volunteer", grid=grid, team=team, off=str(("volunteer", team) in off)
            )
    off_duty = {r["code"] for r in rows if r.pop("off", "False") == "True"}
    for r in rows:
        r["on_duty"] = "false" if r["code"] in off_duty else "true"
    return rows


# --- writing ---------------------------------------------------------------------
def _households_by_grid(grid_codes: list[str], buildings: list[Building]) -> dict[str, int]:
    return {g: sum(b.households for b in buildings if b.grid == g) for g in grid_codes}


def _readme(counts: dict[str, int], per_grid: dict[str, int]) -> str:
    grids = "\n".join(
        f"| {code} | {GRID_NAMES[i]} | {n} |" for i, (code, n) in enumerate(per_grid.items())
    )
    return f"""# data/shapes — the demo community {COMMUNITY_NAME}

Generated by `gridgis demo generate` (module `gridgis/demo/generate.py`, seed {DEFAULT_SEED});
do not edit by hand: change the generator and regenerate. Made-up data at real
WGS-84 coordinates on the north shore of 南湖, Hongshan district, Wuhan (420111).
Names and phone numbers are fake. GeoJSON is RFC 7946: lon/lat, no `crs`,
exterior rings counter-clockwise, one feature per line.

| file | what | count |
|---|---|---|
| community.geojson | the community boundary (社区); `gap_tolerance_m`, `households_min/max` configure routing and grid balance | {counts["community"]} |
| grids.geojson | grids (网格) that tile the community exactly; 15-digit codes | {counts["grids"]} |
| compounds.geojson | residential compounds (小区) with property company (department code) and owners' committee (业委会) | {counts["compounds"]} |
| buildings.geojson | buildings (楼栋): `kind` residential / commercial (文馨街 shops) / village (何家湾村, 城中村) | {counts["buildings"]} |
| units.geojson | units (单元): slices of a building along its long axis that tile it; `building` is the building code | {counts["units"]} |
| roads.geojson | road centre lines with `width_m`; no building touches a road | {counts["roads"]} |
| departments.geojson | joint-enforcement partners; only the traffic police have a jurisdiction polygon | {counts["departments"]} |
| categories.json | incident categories with deadlines (hours), departments, volunteer team, `is_property` | {counts["categories"]} |
| staff.csv | the "1+1+1+N" teams, one row per role held; `code` is the person, so a person with two roles has two rows | {counts["staff"]} |
| households.csv | households (户) of every unit: room, made-up head and 13X-0000-NNNN phone, members, care flags (about one in ten), registration date | {counts["households"]} |
| visits.csv | visits already logged to flagged households: staff code, days before the day the demo is loaded, time of day, findings | {counts["visits"]} |
| rounds.csv | rounds (四进) of the last {demo_rounds.MONTHS * demo_rounds.MONTH_DAYS} days by each grid's workers and some volunteers: kind, grid, place, days before the day the demo is loaded, start time, staff, others, findings | {counts["rounds"]} |

In total {counts["households"]} households. Households per unit are floors × households per floor.
staff.csv: `grid` is set for grid_worker, part_time_worker and volunteer rows; `building`
for building_head and unit_head rows; `unit` (the unit number) for unit_head rows; `team`
(red, blue, green, orange, white) for volunteers; `on_duty` is true or false.
rounds.csv: `kind` is inventory (进网格自查盘点), publicity (进小区宣传政策), collection
(进楼院征集诉求) or home_help (进家门提供帮助); the place is the grid alone, a `building`,
or a point (`lon`, `lat`, WGS-84) in the grid; `staff` are the participants' codes, the one
who logged it first, all of the grid's team; no finding became an incident.

| grid | name | households |
|---|---|---|
{grids}
"""


def generate(out_dir: Path, *, seed: int = DEFAULT_SEED) -> dict[str, int]:
    """Write the demo community into ``out_dir`` and return the count per layer.

    The same seed always gives byte-identical files.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A seeded generator on purpose: the demo must come out the same every time.
    rng = random.Random(seed)  # nosec B311
    outline: Ring = SHORE + [(WIDTH, HEIGHT), (0, HEIGHT)]
    community_ring, *grid_rings = node_rings([outline] + GRID_RINGS)
    grid_codes = [f"{COMMUNITY_CODE}{i:03d}" for i in range(1, len(grid_rings) + 1)]
    grid_polys = [Polygon(r) for r in grid_rings]

    buildings = _compound_buildings() + _shop_buildings() + _village_buildings(rng)
    for i, b in enumerate(buildings, start=1):
        b.code = f"B{i:03d}"
        owners = [code for code, g in zip(grid_codes, grid_polys) if g.contains(b.shape.polygon)]
        if len(owners) != 1:
            msg = f"building {b.code} {b.name} lies in {len(owners)} grids, expected exactly one"
            raise RuntimeError(msg)
        b.grid = owners[0]

    counts = {
        "community": write_feature_collection(
            out_dir / "community.geojson",
            [
                feature(
                    {"code": COMMUNITY_CODE, "name": COMMUNITY_NAME, **COMMUNITY_BAND},
                    polygon_geometry(community_ring),
                )
            ],
        )
    }
    counts["grids"] = write_feature_collection(
        out_dir / "grids.geojson",
        [
            feature({"code": code, "name": name}, polygon_geometry(ring))
            for code, name, ring in zip(grid_codes, GRID_NAMES, grid_rings)
        ],
    )
    counts["compounds"] = write_feature_collection(
        out_dir / "compounds.geojson",
        [
            feature(
                {
                    "code": c.code,
                    "name": c.name,
                    "property_company": c.property_company,
                    "owners_committee": c.owners_committee,
                },
                polygon_geometry(c.ring),
            )
            for c in COMPOUNDS
        ],
    )
    counts["buildings"] = write_feature_collection(
        out_dir / "buildings.geojson",
        [
            feature(
                {
                    "code": b.code,
                    "name": b.name,
                    "address": b.address,
                    "floors": b.floors,
                    "households": b.households,
                    "compound": b.compound,
                    "kind": b.kind,
                },
                polygon_geometry(b.shape.outline),
            )
            for b in buildings
        ],
    )
    counts["units"] = write_feature_collection(
        out_dir / "units.geojson",
        [
            feature(
                {"building": b.code, "number": str(n), "households": b.unit_households},
                polygon_geometry(ring),
            )
            for b in buildings
            for n, ring in enumerate(b.shape.units, start=1)
        ],
    )
    counts["roads"] = write_feature_collection(
        out_dir / "roads.geojson",
        [
            feature({"name": name, "width_m": width}, line_geometry(line))
            for name, width, line in ROADS
        ],
    )

    # The traffic police answer for the carriageways and a 5 m strip beside them.
    roads_area = unary_union(
        [
            Polygon(community_ring).intersection(
                LineString(line).buffer(width / 2 + 5, cap_style="flat", join_style="mitre")
            )
            for _name, width, line in ROADS
        ]
    )
    counts["departments"] = write_feature_collection(
        out_dir / "departments.geojson",
        [
            feature(
                {"code": code, "name": name, "kind": kind, "phone": phone},
                shapely_geometry(roads_area) if kind == "traffic_police" else None,
            )
            for code, name, kind, phone in DEPARTMENTS
        ],
    )

    categories = [
        {
            "code": c[0],
            "name_zh": c[1],
            "name_en": c[2],
            "response_hours": c[3],
            "resolution_hours": c[4],
            "departments": c[5],
            "volunteer_team": c[6],
            "is_property": c[7],
        }
        for c in CATEGORIES
    ]
    text = json.dumps(categories, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    (out_dir / "categories.json").write_text(text, encoding="utf-8", newline="\n")
    counts["categories"] = len(categories)

    staff = _staff(grid_codes, buildings, rng)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, STAFF_FIELDS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(staff)
    (out_dir / "staff.csv").write_text(buf.getvalue(), encoding="utf-8", newline="\n")
    counts["staff"] = len(staff)

    households, visits = demo_households.generate(buildings, staff, seed)
    demo_households.write_csv(
        out_dir / "households.csv", demo_households.HOUSEHOLD_FIELDS, households
    )
    demo_households.write_csv(out_dir / "visits.csv", demo_households.VISIT_FIELDS, visits)
    counts["visits"] = len(visits)
    counts["households"] = sum(b.households for b in buildings)
    rounds = demo_rounds.generate(list(zip(grid_codes, grid_polys)), buildings, staff, seed)
    demo_households.write_csv(out_dir / "rounds.csv", demo_rounds.ROUND_FIELDS, rounds)
    counts["rounds"] = len(rounds)
    readme = _readme(counts, _households_by_grid(grid_codes, buildings))
    (out_dir / "README.md").write_text(readme, encoding="utf-8", newline="\n")
    return counts
