"""A synthetic city for the routing benchmark, built with numpy and loaded with COPY.

Not a module of gridgis: ``bench/routing.py`` imports it. Running this file does
nothing (``make bench`` runs every ``bench/*.py``).

The city is laid out in local metres (x east, y north) and mapped linearly to
lon/lat south-east of the demo community, so that every polygon is an
axis-aligned rectangle in EPSG:4326 and shared edges are the *same* floats in
every polygon that has them (a point on such an edge is on it exactly, in
PostGIS and in shapely alike).

- Grid cells of 200 m × 200 m, separated by roads 20–40 m wide (a random width
  per road), so most points in a road are within the 30 m gap tolerance of a grid.
- Communities of 5 × 5 cells; one cell of each is a lake (no grid, no
  building): points in its middle are farther than 30 m from every grid.
  Neighbouring communities meet on the middle line of the road between them.
- Each grid cell has 40 building slots (8 × 5); buildings are 12–21 m × 10–16 m.
- 90% of buildings are sliced across into 2–6 units of *different* widths, so
  two units sharing an edge never have equal areas and the tie rule (smallest
  area, then lowest id) is decided by area, identically in every implementation.
- Every community has two published layouts: the one in force (valid from
  2020) with one grid per cell, and a 2019 one (one grid for the whole block)
  that routing must ignore.
- Staff: a grid worker, a part-time worker and two volunteers per grid, a
  building head for a quarter of the buildings and a unit head for a tenth of
  the units; 5% are off duty.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import shapely

SRID = 4326
#: South-east of the demo community (114.345, 30.505), so the two never overlap.
LON0, LAT0 = 114.42, 30.56
M_PER_DEG_LAT = 110_860.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0 + 0.07))

CELL = 200.0  # grid cell side, metres
ROAD_MIN, ROAD_MAX = 20.0, 40.0
OUTER_MARGIN = 15.0  # community boundary beyond the outermost grids
BLOCK = 5  # a community is BLOCK × BLOCK cells
SLOTS_X, SLOTS_Y = 8, 5  # building slots per cell
SLOT_W, SLOT_H = CELL / SLOTS_X, CELL / SLOTS_Y
UNIT_COUNTS = np.array([2, 3, 4, 5, 6])
UNIT_COUNT_P = np.array([0.15, 0.30, 0.25, 0.20, 0.10])
SHARE_WITH_UNITS = 0.9
CURRENT_FROM = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
OLD_FROM = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅"
TEAMS = ("red", "blue", "green", "orange", "white")


def lon_of(x: np.ndarray | float) -> np.ndarray | float:
    return LON0 + np.asarray(x) / M_PER_DEG_LON


def lat_of(y: np.ndarray | float) -> np.ndarray | float:
    return LAT0 + np.asarray(y) / M_PER_DEG_LAT


@dataclass
class City:
    """Everything to load, as arrays; polygons as lon/lat rectangles (x0, y0, x1, y1)."""

    tag: str
    n_communities: int
    comm_boundary: np.ndarray  # shapely MultiPolygons, densified
    comm_rect: np.ndarray  # (n, 4) lon/lat
    # current-layout grids, one per non-lake cell
    grid_comm: np.ndarray
    grid_rect: np.ndarray  # (n, 4) lon/lat
    grid_cell: np.ndarray  # (n, 2) row, col
    old_grid_rect: np.ndarray  # (n_communities, 4)
    building_grid: np.ndarray
    building_rect: np.ndarray
    unit_building: np.ndarray
    unit_rect: np.ndarray
    unit_number: np.ndarray
    #: inner unit edges: (building index, lon of the shared edge)
    unit_edges: np.ndarray
    lakes: np.ndarray  # (n_communities, 4) lon/lat of each lake cell
    col_edges: tuple[np.ndarray, np.ndarray]  # x start, x end of each cell column (m)
    row_edges: tuple[np.ndarray, np.ndarray]
    col_gap: np.ndarray
    row_gap: np.ndarray
    cell_kind: np.ndarray  # (rows, cols): -1 no community, 0 lake, 1 grid
    comm_mid_x: np.ndarray  # lon of vertical community seams
    comm_seams: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        r = self.comm_rect
        return (
            float(r[:, 0].min()),
            float(r[:, 1].min()),
            float(r[:, 2].max()),
            float(r[:, 3].max()),
        )


def build_city(n_buildings: int, *, seed: int, tag: str) -> City:
    """Lay the city out (pure numpy, no database)."""
    rng = np.random.default_rng(seed)
    per_comm = BLOCK * BLOCK - 1
    n_grids_needed = max(1, math.ceil(n_buildings / (SLOTS_X * SLOTS_Y)))
    n_comm = math.ceil(n_grids_needed / per_comm)
    bcols = math.ceil(math.sqrt(n_comm))
    brows = math.ceil(n_comm / bcols)
    ncols, nrows = bcols * BLOCK, brows * BLOCK
    col_gap = rng.uniform(ROAD_MIN, ROAD_MAX, ncols - 1)
    row_gap = rng.uniform(ROAD_MIN, ROAD_MAX, nrows - 1)
    x0 = np.concatenate([[0.0], np.cumsum(CELL + col_gap)])
    y0 = np.concatenate([[0.0], np.cumsum(CELL + row_gap)])
    x1, y1 = x0 + CELL, y0 + CELL
    # Community seams on the middle line of the road; lon/lat computed once so
    # that both neighbours carry bit-identical coordinates.
    mid_x = np.concatenate([[x0[0] - OUTER_MARGIN], x1[:-1] + col_gap / 2, [x1[-1] + OUTER_MARGIN]])
    mid_y = np.concatenate([[y0[0] - OUTER_MARGIN], y1[:-1] + row_gap / 2, [y1[-1] + OUTER_MARGIN]])
    mid_lon, mid_lat = lon_of(mid_x), lat_of(mid_y)

    cell_kind = np.full((nrows, ncols), -1, dtype=np.int8)
    comm_rect = np.empty((n_comm, 4))
    comm_cells: list[list[tuple[int, int]]] = []
    lakes = np.empty((n_comm, 4))
    old_rect = np.empty((n_comm, 4))
    seams: list[tuple[float, float, float]] = []
    for k in range(n_comm):
        br, bc = divmod(k, bcols)
        r0, c0 = br * BLOCK, bc * BLOCK
        cells = [(r0 + i, c0 + j) for i in range(BLOCK) for j in range(BLOCK)]
        lake = cells[int(rng.integers(len(cells)))]
        cell_kind[r0 : r0 + BLOCK, c0 : c0 + BLOCK] = 1
        cell_kind[lake] = 0
        # The boundary is the seam where a neighbour block exists, else the margin.
        has_w = bc > 0
        has_e = bc + 1 < bcols and k + 1 < n_comm
        has_s = br > 0
        has_n = k + bcols < n_comm
        xa = mid_lon[c0] if has_w else lon_of(x0[c0] - OUTER_MARGIN)
        xb = mid_lon[c0 + BLOCK] if has_e else lon_of(x1[c0 + BLOCK - 1] + OUTER_MARGIN)
        ya = mid_lat[r0] if has_s else lat_of(y0[r0] - OUTER_MARGIN)
        yb = mid_lat[r0 + BLOCK] if has_n else lat_of(y1[r0 + BLOCK - 1] + OUTER_MARGIN)
        comm_rect[k] = (xa, ya, xb, yb)
        if has_e:
            seams.append((float(xb), float(ya), float(yb)))
        lr, lc = lake
        lakes[k] = (lon_of(x0[lc]), lat_of(y0[lr]), lon_of(x1[lc]), lat_of(y1[lr]))
        old_rect[k] = (
            lon_of(x0[c0]),
            lat_of(y0[r0]),
            lon_of(x1[c0 + BLOCK - 1]),
            lat_of(y1[r0 + BLOCK - 1]),
        )
        comm_cells.append([c for c in cells if c != lake])
    max_seg = 100.0 / M_PER_DEG_LON  # densify: geodesic and planar edges agree to < 1 mm
    boundary = shapely.segmentize(shapely.box(*comm_rect.T), max_seg)
    boundary = np.array([shapely.MultiPolygon([p]) for p in boundary], dtype=object)

    grid_cell = np.array([c for cells in comm_cells for c in cells])
    grid_comm = np.repeat(np.arange(n_comm), [len(c) for c in comm_cells])
    gr, gc = grid_cell[:, 0], grid_cell[:, 1]
    grid_rect = np.column_stack([lon_of(x0[gc]), lat_of(y0[gr]), lon_of(x1[gc]), lat_of(y1[gr])])

    # Buildings: fill slots evenly over the grids, slots chosen at random.
    n_grids = len(grid_cell)
    base, extra = divmod(n_buildings, n_grids)
    per_grid = np.full(n_grids, base)
    per_grid[rng.permutation(n_grids)[:extra]] += 1
    slots = SLOTS_X * SLOTS_Y
    keys = rng.random((n_grids, slots)).argsort(axis=1)
    take = np.arange(slots)[None, :] < per_grid[:, None]
    b_grid = np.repeat(np.arange(n_grids), per_grid)
    b_slot = keys[take]
    sx, sy = b_slot % SLOTS_X, b_slot // SLOTS_X
    n_b = len(b_grid)
    w = rng.uniform(12.0, 21.0, n_b)
    d = rng.uniform(10.0, 16.0, n_b)
    ox = x0[gc[b_grid]] + sx * SLOT_W + 2.0 + rng.random(n_b) * (SLOT_W - 4.0 - w)
    oy = y0[gr[b_grid]] + sy * SLOT_H + 3.0 + rng.random(n_b) * (SLOT_H - 6.0 - d)
    b_rect = np.column_stack([lon_of(ox), lat_of(oy), lon_of(ox + w), lat_of(oy + d)])

    # Units: slices across the building with distinct widths.
    has_units = rng.random(n_b) < SHARE_WITH_UNITS
    k_units = np.where(has_units, rng.choice(UNIT_COUNTS, n_b, p=UNIT_COUNT_P), 0)
    u_building = np.repeat(np.arange(n_b), k_units)
    n_u = len(u_building)
    kb = k_units[k_units > 0]
    starts = np.concatenate([[0], np.cumsum(kb)[:-1]])
    u_first = np.repeat(starts, kb)
    u_count = np.repeat(kb, kb)
    pos = np.arange(n_u) - u_first  # position of the unit within its building, west to east
    # Weights 1, 1.12, 1.24, ... in a random order within each building, plus a
    # little noise: two units of a building differ in width by at least ~7%.
    order = np.argsort(rng.random(n_u) + u_building * 2.0, kind="stable")
    rank = np.empty(n_u, dtype=np.int64)
    rank[order] = pos
    weight = 1.0 + 0.12 * rank + rng.uniform(0.0, 0.05, n_u)
    cum = np.cumsum(weight)
    before = np.where(u_first > 0, cum[u_first - 1], 0.0)
    total = np.repeat(np.add.reduceat(weight, starts), kb)
    frac_hi = (cum - before) / total
    bx0, bx1 = b_rect[u_building, 0], b_rect[u_building, 2]
    hi = np.where(pos == u_count - 1, bx1, bx0 + frac_hi * (bx1 - bx0))
    # The west edge of unit i+1 is the east edge of unit i, bit for bit.
    lo = np.where(pos == 0, bx0, np.roll(hi, 1))
    u_rect = np.column_stack([lo, b_rect[u_building, 1], hi, b_rect[u_building, 3]])
    u_number = np.char.add((pos + 1).astype(str), "单元")
    inner = pos > 0
    unit_edges = np.column_stack([u_building[inner], lo[inner]])

    return City(
        tag=tag,
        n_communities=n_comm,
        comm_boundary=boundary,
        comm_rect=comm_rect,
        grid_comm=grid_comm,
        grid_rect=grid_rect,
        grid_cell=grid_cell,
        old_grid_rect=old_rect,
        building_grid=b_grid,
        building_rect=b_rect,
        unit_building=u_building,
        unit_rect=u_rect,
        unit_number=u_number,
        unit_edges=unit_edges,
        lakes=lakes,
        col_edges=(x0, x1),
        row_edges=(y0, y1),
        col_gap=col_gap,
        row_gap=row_gap,
        cell_kind=cell_kind,
        comm_mid_x=mid_lon,
        comm_seams=seams,
    )


# --- incident points ---------------------------------------------------------

POINT_KINDS = ("building", "unit_edge", "gap", "community_seam", "lake", "outside")


@dataclass
class Points:
    lon: np.ndarray
    lat: np.ndarray
    kind: np.ndarray  # index into POINT_KINDS

    def __len__(self) -> int:
        return len(self.lon)


def make_points(city: City, n: int, *, seed: int) -> Points:
    """90% in buildings (1 in 100 of them exactly on an edge two units share), 5%
    in the roads around grids (1 in 20 of them exactly on a seam between two
    communities), 5% far (half in lakes, half outside every community)."""
    rng = np.random.default_rng(seed + 1)
    n_in = round(n * 0.90)
    n_gap = round(n * 0.05)
    n_far = n - n_in - n_gap
    n_edge = n_in // 100 if len(city.unit_edges) else 0
    n_seam = n_gap // 20 if city.comm_seams else 0
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    kinds: list[np.ndarray] = []

    def add(lon: np.ndarray, lat: np.ndarray, kind: str) -> None:
        lons.append(np.asarray(lon, dtype=float))
        lats.append(np.asarray(lat, dtype=float))
        kinds.append(np.full(len(lon), POINT_KINDS.index(kind), dtype=np.int8))

    # Inside buildings, uniformly.
    b = rng.integers(len(city.building_rect), size=n_in - n_edge)
    r = city.building_rect[b]
    add(
        r[:, 0] + rng.random(len(b)) * (r[:, 2] - r[:, 0]),
        r[:, 1] + rng.random(len(b)) * (r[:, 3] - r[:, 1]),
        "building",
    )
    # Exactly on an edge two units share.
    e = (
        city.unit_edges[rng.integers(len(city.unit_edges), size=n_edge)]
        if n_edge
        else np.empty((0, 2))
    )
    r = city.building_rect[e[:, 0].astype(np.int64)]
    add(e[:, 1], r[:, 1] + rng.random(n_edge) * (r[:, 3] - r[:, 1]), "unit_edge")

    # Roads: beside a random grid, on a random side, any distance across the road
    # (or up to 50 m where the neighbour is a lake or nothing).
    x0, x1 = city.col_edges
    y0, y1 = city.row_edges
    nrows, ncols = city.cell_kind.shape
    m = n_gap - n_seam
    g = rng.integers(len(city.grid_cell), size=m)
    gr, gc = city.grid_cell[g, 0], city.grid_cell[g, 1]
    side = rng.integers(4, size=m)  # 0 W, 1 E, 2 S, 3 N
    along = rng.uniform(-10.0, CELL + 10.0, m)
    dr = np.array([0, 0, -1, 1])[side]
    dc = np.array([-1, 1, 0, 0])[side]
    nr, nc = gr + dr, gc + dc
    inside = (nr >= 0) & (nr < nrows) & (nc >= 0) & (nc < ncols)
    neighbour = np.where(
        inside, city.cell_kind[np.clip(nr, 0, nrows - 1), np.clip(nc, 0, ncols - 1)], -1
    )
    gap_w = np.where(
        side == 0,
        np.r_[0.0, city.col_gap][gc],
        np.where(
            side == 1,
            np.r_[city.col_gap, 0.0][gc],
            np.where(side == 2, np.r_[0.0, city.row_gap][gr], np.r_[city.row_gap, 0.0][gr]),
        ),
    )
    reach = np.where(neighbour == 1, gap_w, 50.0)
    dist = 0.05 + rng.random(m) * (reach - 0.1)
    px = np.where(side == 0, x0[gc] - dist, np.where(side == 1, x1[gc] + dist, x0[gc] + along))
    py = np.where(side == 2, y0[gr] - dist, np.where(side == 3, y1[gr] + dist, y0[gr] + along))
    add(lon_of(px), lat_of(py), "gap")
    # Exactly on the seam between two communities (the middle of a road).
    if n_seam:
        s = np.array(city.comm_seams)[rng.integers(len(city.comm_seams), size=n_seam)]
        add(s[:, 0], s[:, 1] + rng.random(n_seam) * (s[:, 2] - s[:, 1]), "community_seam")

    # Far: the middle of lakes (more than 30 m from every grid) ...
    n_lake = n_far // 2
    lk = city.lakes[rng.integers(len(city.lakes), size=n_lake)]
    inset_x, inset_y = 16.0 / M_PER_DEG_LON, 16.0 / M_PER_DEG_LAT
    add(
        lk[:, 0] + inset_x + rng.random(n_lake) * (lk[:, 2] - lk[:, 0] - 2 * inset_x),
        lk[:, 1] + inset_y + rng.random(n_lake) * (lk[:, 3] - lk[:, 1] - 2 * inset_y),
        "lake",
    )
    # ... and outside every community: 100 m to 3 km beyond the city's box.
    n_out = n_far - n_lake
    bx0, by0, bx1, by1 = city.bbox
    off = rng.uniform(100.0, 3000.0, n_out)
    t = rng.random(n_out)
    # A point on the box's outline, pushed out along the side's normal.
    side = rng.integers(4, size=n_out)
    ox = np.where(
        side < 2,
        np.where(side == 0, bx0 - off / M_PER_DEG_LON, bx1 + off / M_PER_DEG_LON),
        bx0 + t * (bx1 - bx0),
    )
    oy = np.where(
        side >= 2,
        np.where(side == 2, by0 - off / M_PER_DEG_LAT, by1 + off / M_PER_DEG_LAT),
        by0 + t * (by1 - by0),
    )
    add(ox, oy, "outside")

    lon, lat, kind = np.concatenate(lons), np.concatenate(lats), np.concatenate(kinds)
    order = rng.permutation(len(lon))
    return Points(lon[order], lat[order], kind[order])


# --- loading -----------------------------------------------------------------

_EWKB_RECT = np.dtype(
    [
        ("bo", "u1"),
        ("type", "<u4"),
        ("srid", "<u4"),
        ("n", "<u4"),
        ("pbo", "u1"),
        ("ptype", "<u4"),
        ("rings", "<u4"),
        ("pts", "<u4"),
        ("xy", "<f8", (10,)),
    ]
)


def rect_ewkb_hex(rect: np.ndarray) -> list[str]:
    """Hex EWKB MultiPolygons of lon/lat rectangles, without building shapely objects."""
    n = len(rect)
    a = np.zeros(n, dtype=_EWKB_RECT)
    a["bo"], a["type"], a["srid"], a["n"] = 1, 6 | 0x20000000, SRID, 1
    a["pbo"], a["ptype"], a["rings"], a["pts"] = 1, 3, 1, 5
    x0, y0, x1, y1 = rect.T
    a["xy"] = np.column_stack([x0, y0, x1, y0, x1, y1, x0, y1, x0, y0])
    size = _EWKB_RECT.itemsize * 2
    text = a.tobytes().hex()
    return [text[i : i + size] for i in range(0, len(text), size)]


def geom_ewkb_hex(geoms: np.ndarray) -> list[str]:
    return list(shapely.to_wkb(shapely.set_srid(geoms, SRID), hex=True, include_srid=True))


def reserve_ids(cur, table: str, n: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """``n`` consecutive ids from the table's sequence.

    The table is locked against inserts for the rest of the transaction, so no
    one else can draw from the sequence in between (inserts take the default
    only after they hold their lock).
    """
    cur.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
    seq = cur.fetchone()[0]
    cur.execute("SELECT nextval(%s)", (seq,))
    first = cur.fetchone()[0]
    if n > 1:
        cur.execute("SELECT setval(%s, %s)", (seq, first + n - 1))
    return np.arange(first, first + n, dtype=np.int64)


def _copy(cur, table: str, columns: str, rows) -> None:  # type: ignore[no-untyped-def]
    """COPY text rows (tuples of str) in chunks."""
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
        buf: list[str] = []
        for row in rows:
            buf.append("\t".join(row))
            if len(buf) >= 20_000:
                cp.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            cp.write("\n".join(buf) + "\n")


def _n(v: object) -> str:
    return r"\N" if v is None else str(v)


@dataclass
class Loaded:
    """Ids of what was loaded, by the arrays' order."""

    community: np.ndarray
    grid: np.ndarray
    old_grid: np.ndarray
    building: np.ndarray
    unit: np.ndarray
    categories: list[str]
    departments: list[str]
    counts: dict[str, int]
    seconds: dict[str, float]


def load_city(conn, city: City, *, seed: int, keep_trigger: bool = False) -> Loaded:  # type: ignore[no-untyped-def]
    """Load the city into the database with COPY, in one transaction.

    ``conn`` is a psycopg 3 connection (not autocommit). Unless ``keep_trigger``,
    the per-row trigger ``unit_inside_building`` is disabled during the unit
    COPY and the same check is then run once, set-based, over the loaded units
    (a failure aborts the load); the ALTER is part of the transaction, so an
    interrupted load leaves the trigger enabled.
    """
    import time

    rng = np.random.default_rng(seed + 2)
    tag = city.tag
    t: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        t[name] = round(now - clock, 3)
        clock = now

    with conn.cursor() as cur:
        # Departments and categories (codes carry the run's tag).
        bx0, by0, bx1, by1 = city.bbox
        xm = (bx0 + bx1) / 2
        west = shapely.MultiPolygon([shapely.box(bx0 - 0.01, by0 - 0.01, xm, by1 + 0.01)])
        east = shapely.MultiPolygon([shapely.box(xm, by0 - 0.01, bx1 + 0.01, by1 + 0.01)])
        deps = [
            (f"{tag}-UM", "城管执法中队", "urban_management", None),
            (f"{tag}-TPW", "交警西大队", "traffic_police", west),
            (f"{tag}-TPE", "交警东大队", "traffic_police", east),
            (f"{tag}-SAN", "环卫所", "sanitation", None),
        ] + [(f"{tag}-PM{i}", f"物业公司{i}", "property_company", None) for i in range(4)]
        dep_id: dict[str, int] = {}
        for code, name, kind, geom in deps:
            cur.execute(
                "INSERT INTO department (code, name, kind, phone, jurisdiction) "
                "VALUES (%s, %s, %s, '027-8888' , ST_GeomFromEWKB(decode(%s, 'hex'))) RETURNING id",
                (
                    code,
                    name,
                    kind,
                    geom_ewkb_hex(np.array([geom], dtype=object))[0] if geom else None,
                ),
            )
            dep_id[code] = cur.fetchone()[0]
        cats = [
            (f"{tag}_noise", "噪音扰民", "Noise", None, False, [f"{tag}-UM"]),
            (
                f"{tag}_parking",
                "违章停车",
                "Illegal parking",
                None,
                False,
                [f"{tag}-TPW", f"{tag}-TPE"],
            ),
            (f"{tag}_leak", "物业漏水", "Leak (property)", None, True, [f"{tag}-SAN"]),
            (f"{tag}_medical", "就医帮扶", "Medical help", "white", False, []),
        ]
        for code, zh, en, team, prop, cat_deps in cats:
            cur.execute(
                "INSERT INTO category (code, name_zh, name_en, response_hours, resolution_hours, "
                "volunteer_team, is_property) VALUES (%s, %s, %s, 2, 48, %s, %s) RETURNING id",
                (code, zh, en, team, prop),
            )
            cid = cur.fetchone()[0]
            for dcode in cat_deps:
                cur.execute("INSERT INTO category_department VALUES (%s, %s)", (cid, dep_id[dcode]))
        lap("departments_categories")

        # Communities and their two published layouts.
        n_c = city.n_communities
        comm_ids = reserve_ids(cur, "community", n_c)
        _copy(
            cur,
            "community",
            "id, code, name, boundary, gap_tolerance_m, households_min, households_max",
            (
                (str(i), f"{tag}-C{k:04d}", f"基准社区{k}", g, "30", "300", "500")
                for k, (i, g) in enumerate(zip(comm_ids, geom_ewkb_hex(city.comm_boundary)))
            ),
        )
        lay_ids = reserve_ids(cur, "layout", 2 * n_c)
        old_lay, cur_lay = lay_ids[:n_c], lay_ids[n_c:]
        _copy(
            cur,
            "layout",
            "id, community_id, name, status, valid_from, valid_to",
            [
                (
                    str(lo),
                    str(c),
                    "2019版",
                    "published",
                    OLD_FROM.isoformat(),
                    CURRENT_FROM.isoformat(),
                )
                for lo, c in zip(old_lay, comm_ids)
            ]
            + [
                (str(lc), str(c), "2020版", "published", CURRENT_FROM.isoformat(), r"\N")
                for lc, c in zip(cur_lay, comm_ids)
            ],
        )
        lap("communities_layouts")

        # Grids: the old layout's one per community, then the current ones.
        n_g = len(city.grid_rect)
        old_grid_ids = reserve_ids(cur, "grid", n_c)
        grid_ids = reserve_ids(cur, "grid", n_g)
        gcomm = city.grid_comm
        _copy(
            cur,
            "grid",
            "id, layout_id, code, name, geom",
            [
                (str(i), str(lo), "G00", "旧网格", g)
                for i, lo, g in zip(old_grid_ids, old_lay, rect_ewkb_hex(city.old_grid_rect))
            ]
            + [
                (str(i), str(cur_lay[c]), f"G{r:03d}{col:03d}", f"第{r}-{col}网格", g)
                for i, c, (r, col), g in zip(
                    grid_ids, gcomm, city.grid_cell, rect_ewkb_hex(city.grid_rect)
                )
            ],
        )
        lap("grids")

        # Compounds: half the grids' cores, each with a property company.
        with_compound = rng.random(n_g) < 0.5
        cg = np.flatnonzero(with_compound)
        comp_ids = reserve_ids(cur, "compound", len(cg))
        inset_x, inset_y = 1.0 / M_PER_DEG_LON, 1.0 / M_PER_DEG_LAT
        crect = city.grid_rect[cg] + np.array([inset_x, inset_y, -inset_x, -inset_y])
        pm = [dep_id[f"{tag}-PM{i}"] for i in range(4)]
        _copy(
            cur,
            "compound",
            "id, community_id, code, name, property_company_id, geom",
            (
                (str(i), str(comm_ids[gcomm[g]]), f"XQ{g}", f"小区{g}", str(pm[g % 4]), geom)
                for i, g, geom in zip(comp_ids, cg, rect_ewkb_hex(crect))
            ),
        )
        compound_of_grid = np.full(n_g, -1, dtype=np.int64)
        compound_of_grid[cg] = comp_ids
        lap("compounds")

        # Buildings.
        n_b = len(city.building_rect)
        b_ids = reserve_ids(cur, "building", n_b)
        bg = city.building_grid
        floors = rng.integers(2, 33, n_b)
        b_comm = comm_ids[gcomm[bg]]
        b_comp = compound_of_grid[bg]
        _copy(
            cur,
            "building",
            "id, community_id, compound_id, code, name, address, floors, households, geom",
            (
                (
                    str(i),
                    str(c),
                    r"\N" if cp < 0 else str(cp),
                    f"B{k}",
                    f"{k % 97 + 1}栋",
                    f"武汉市洪山区基准路{k // 40 + 1}号{k % 40 + 1}栋",
                    str(f),
                    str(f * 4),
                    g,
                )
                for k, (i, c, cp, f, g) in enumerate(
                    zip(b_ids, b_comm, b_comp, floors, rect_ewkb_hex(city.building_rect))
                )
            ),
        )
        lap("buildings")

        # Units.
        n_u = len(city.unit_rect)
        u_ids = reserve_ids(cur, "unit", n_u)
        if not keep_trigger:
            cur.execute("ALTER TABLE unit DISABLE TRIGGER unit_inside_building")
        _copy(
            cur,
            "unit",
            "id, building_id, number, households, geom",
            (
                (str(i), str(b), num, "24", g)
                for i, b, num, g in zip(
                    u_ids,
                    b_ids[city.unit_building],
                    city.unit_number,
                    rect_ewkb_hex(city.unit_rect),
                )
            ),
        )
        lap("units")
        if not keep_trigger:
            cur.execute("ALTER TABLE unit ENABLE TRIGGER unit_inside_building")
            # The trigger's own test, once for all new units.
            cur.execute(
                "SELECT count(*) FROM unit u JOIN building b ON b.id = u.building_id "
                "WHERE u.id BETWEEN %s AND %s AND NOT ST_CoveredBy(u.geom, b.geom) "
                "AND NOT ST_CoveredBy(u.geom, ST_Buffer(b.geom::geography, 0.5)::geometry)",
                (int(u_ids[0]), int(u_ids[-1])),
            )
            bad = cur.fetchone()[0]
            if bad:
                raise RuntimeError(f"{bad} synthetic units lie outside their building")
            lap("units_check")

        # Staff: grid worker, part-time worker, two volunteers per grid; heads.
        gw = [(g, "grid_worker", None) for g in range(n_g)]
        pt = [(g, "part_time_worker", None) for g in range(n_g)]
        vol_team = rng.integers(len(TEAMS), size=(n_g, 2))
        vol_team[:, 1] = (vol_team[:, 0] + 1 + rng.integers(len(TEAMS) - 1, size=n_g)) % len(TEAMS)
        vol = [(g, "volunteer", TEAMS[vol_team[g, j]]) for g in range(n_g) for j in range(2)]
        heads_b = np.flatnonzero(rng.random(n_b) < 0.25)
        heads_u = np.flatnonzero(rng.random(n_u) < 0.10)
        n_s = 4 * n_g + len(heads_b) + len(heads_u)
        s_ids = reserve_ids(cur, "staff", n_s)
        a_ids = reserve_ids(cur, "assignment", n_s)
        s_comm = np.concatenate(
            [
                comm_ids[gcomm[np.arange(n_g)]],
                comm_ids[gcomm[np.arange(n_g)]],
                np.repeat(comm_ids[gcomm[np.arange(n_g)]], 2),
                b_comm[heads_b],
                b_comm[city.unit_building[heads_u]],
            ]
        )
        sur = rng.integers(len(SURNAMES), size=n_s)
        giv = rng.integers(len(GIVEN), size=(n_s, 2))
        one = rng.random(n_s) < 0.5
        phones = rng.integers(10**9, 10**10 - 1, size=n_s)
        _copy(
            cur,
            "staff",
            "id, community_id, code, name, phone",
            (
                (
                    str(i),
                    str(c),
                    f"S{k:07d}",
                    SURNAMES[sur[k]] + GIVEN[giv[k, 0]] + ("" if one[k] else GIVEN[giv[k, 1]]),
                    f"1{3 + phones[k] % 7}{phones[k]:010d}"[:11],
                )
                for k, (i, c) in enumerate(zip(s_ids, s_comm))
            ),
        )
        on_duty = np.where(rng.random(n_s) < 0.05, "f", "t")
        targets = (
            [(str(grid_ids[g]), r"\N", r"\N", role, team) for g, role, team in gw + pt + vol]
            + [(r"\N", str(b_ids[b]), r"\N", "building_head", None) for b in heads_b]
            + [(r"\N", r"\N", str(u_ids[u]), "unit_head", None) for u in heads_u]
        )
        _copy(
            cur,
            "assignment",
            "id, staff_id, role, grid_id, building_id, unit_id, volunteer_team, on_duty",
            (
                (str(a), str(s), role, g, b, u, _n(team), od)
                for a, s, (g, b, u, role, team), od in zip(a_ids, s_ids, targets, on_duty)
            ),
        )
        lap("staff_assignments")
    conn.commit()
    for table in (
        "community",
        "layout",
        "grid",
        "compound",
        "building",
        "unit",
        "staff",
        "assignment",
        "department",
        "category",
        "category_department",
    ):
        conn.execute(f"ANALYZE {table}")
    conn.commit()
    lap("analyze")
    return Loaded(
        community=comm_ids,
        grid=grid_ids,
        old_grid=old_grid_ids,
        building=b_ids,
        unit=u_ids,
        categories=[c[0] for c in cats],
        departments=[d[0] for d in deps],
        counts={
            "communities": n_c,
            "layouts": 2 * n_c,
            "grids": n_g,
            "old_grids": n_c,
            "compounds": len(cg),
            "buildings": n_b,
            "units": n_u,
            "staff": n_s,
            "assignments": n_s,
        },
        seconds=t,
    )


def delete_city(conn, tag: str) -> None:  # type: ignore[no-untyped-def]
    """Remove everything a run tagged ``tag`` created (cascades from the communities)."""
    like = tag + "%"
    conn.execute("DELETE FROM community WHERE code LIKE %s", (like,))
    conn.execute("DELETE FROM category WHERE code LIKE %s", (like,))
    conn.execute("DELETE FROM department WHERE code LIKE %s", (like,))
    conn.commit()


if __name__ == "__main__":  # `make bench` runs every bench/*.py; this one is a helper.
    pass
