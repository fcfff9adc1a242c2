"""The demo community's rounds (四进) of the last three months.

Every grid's full-time and part-time workers log a few rounds of each kind a
month (:data:`gridgis.models.ROUND_KIND_TERMS`), and about half its
volunteers a round or two a month of the kinds their team does. A round is
somewhere a real one would be: a grid inventory walks the whole grid or
stops at one of the grid's spots (a square, a gate, a corner of the lanes);
publicity is held at a spot or in front of a building; requests are
collected in a building's courtyard; help at home is given in a residential
building. It starts in office hours, and its participants are the one who
logs it and others of the grid's "1+1+1+N" team: the other worker, a
volunteer or two, the building's head when it is at a building. Nobody is in
two rounds in the same half day, and staff now off duty log none in the last
two weeks (they are away).

Rounds are written as days before the day the demo is loaded
(``rounds.csv``), like the visits (:mod:`gridgis.demo.households`), so that
the monthly report counts rounds in the months before whenever it is loaded.
Findings are short notes; none became an incident, as no demo visit's did.
Everything comes from its own seeded generator: the other demo files do not
change with it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from shapely.geometry import Point, Polygon
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.demo.geometry import to_lonlat
from gridgis.errors import InvalidFile, InvalidInput
from gridgis.geo import tables
from gridgis.geo.layouts import in_force_clause
from gridgis.models import ROUND_KINDS, Building, Community, Grid, Layout, Staff
from gridgis.staff.rounds import log_round

ROUND_FIELDS = [
    "kind",
    "grid",
    "building",
    "lon",
    "lat",
    "days_ago",
    "time",
    "staff",
    "others",
    "findings",
]
#: How far back the rounds go: three "months" of 31 days, so that the two
#: calendar months before the day of loading are always whole in the report.
MONTHS = 3
MONTH_DAYS = 31
#: Rounds of each kind one worker logs in a month, fewest and most.
WORKER_ROUNDS = {"grid_worker": (1, 3), "part_time_worker": (1, 2)}
#: Share of a grid's volunteers who log rounds, and how many of each of their kinds a month.
VOLUNTEERS_LOGGING = 0.5
VOLUNTEER_ROUNDS = (0, 1)
#: The kinds of round each volunteer team does.
TEAM_KINDS = {
    "red": ("publicity", "collection"),  # 红色先锋: party members explain policy
    "blue": ("inventory", "collection"),  # 蓝色网格: the grid's eyes and ears
    "green": ("inventory", "publicity"),  # 绿色老兵: veterans on patrol
    "orange": ("home_help", "collection"),  # 橙色老年: the elderly
    "white": ("home_help", "publicity"),  # 白色医疗: health
}
#: Where each kind of round takes place, with weights.
PLACES = {
    "inventory": (("grid", 6), ("point", 3), ("building", 1)),
    "publicity": (("point", 5), ("building", 3), ("grid", 2)),
    "collection": (("building", 7), ("point", 2), ("grid", 1)),
    "home_help": (("building", 1),),
}
#: Start times: office hours (8:30-12:00, 14:00-17:30), leaving time for the round.
HALF_DAYS = ((8 * 60 + 30, 11 * 60), (14 * 60 + 30, 16 * 60 + 30))
#: Staff off duty now have been away this many days.
AWAY_DAYS = 14
#: Spots per grid where point rounds are held, and how far they keep from the
#: grid's edge and from buildings (metres): the place must name one grid.
SPOTS_PER_GRID = 4
SPOT_EDGE_M = 15
SPOT_BUILDING_M = 4
#: Chance a round had people beside staff (residents, partners).
OTHERS_SHARE = 0.35
OTHERS = {
    "inventory": ("物业安全员", "物业保安2人", "社区民警"),
    "publicity": ("居民约20人", "居民30余人", "社区民警", "社区卫生服务中心医生"),
    "collection": ("居民代表5人", "物业项目经理", "居民十余人"),
    "home_help": ("社区医生", "老人家属", "物业维修工"),
}
FINDINGS = {
    "inventory": (
        "巡查网格内道路和公共区域，未发现安全隐患",
        "排查楼道杂物堆放，已提醒住户清理",
        "核对出租房屋信息，更新台账",
        "检查消防通道，劝离占道停放电动车3辆",
        "检查电动车集中充电点，未发现飞线充电",
        "排查高空坠物隐患，未发现异常",
        "核查新迁入人员信息，已登记",
        "检查窨井盖和路灯，均完好",
    ),
    "publicity": (
        "宣传防范电信诈骗知识，发放资料50余份",
        "宣传垃圾分类政策，现场答疑",
        "宣传城乡居民医保参保缴费政策",
        "宣传家庭安全用电用气常识",
        "宣传文明养犬规定",
        "宣传电动自行车安全充电规定",
        "宣讲老年人优待政策，现场登记高龄津贴申请",
        "宣传禁毒知识，发放宣传手册",
    ),
    "collection": (
        "征集居民诉求，反映停车位紧张",
        "收集诉求3条：楼道灯损坏、垃圾清运不及时、外墙渗水，已转物业",
        "召开楼栋议事会，居民希望增设休闲座椅",
        "征求意见，居民建议加装电梯",
        "收集居民对物业服务的意见，已反馈物业",
        "居民反映夜间广场舞噪音，已与舞队协商时间",
        "本次未收集到新诉求",
    ),
    "home_help": (
        "帮助独居老人更换灯泡，检查用电安全",
        "协助高龄老人申请高龄津贴",
        "上门为行动不便老人代办医保卡",
        "陪同社区医生上门测量血压",
        "帮助困难家庭申请临时救助",
        "上门送慰问品，了解生活需求",
        "协助老人预约社区卫生服务中心体检",
        "帮助居民疏通下水管道",
    ),
}


@dataclass
class _Team:
    """A grid's "1+1+1+N": its workers, volunteers (with their team) and building heads."""

    workers: list[tuple[str, str]] = field(default_factory=list)  # code, role
    volunteers: list[tuple[str, str]] = field(default_factory=list)  # code, team
    heads: dict[str, str] = field(default_factory=dict)  # building code -> its head


class _Diary:
    """Who is busy when: a person is in at most one round a half day, and not while away."""

    def __init__(self, away: set[str]) -> None:
        self.away = away
        self.busy: set[tuple[str, int, int]] = set()

    def free(self, code: str, day: int, half: int) -> bool:
        if code in self.away and day <= AWAY_DAYS:
            return False
        return (code, day, half) not in self.busy

    def book(self, codes: Sequence[str], day: int, half: int) -> None:
        self.busy.update((c, day, half) for c in codes)


def generate(
    grids: Sequence[tuple[str, Polygon]],
    buildings: Sequence[Any],
    staff: Sequence[dict[str, str]],
    seed: int,
) -> list[dict[str, Any]]:
    """The rounds of every grid of ``grids`` (code and polygon in the demo's local metres)."""
    # Its own seeded generator: the other demo files come out the same as before.
    rng = random.Random(f"rounds-{seed}")  # nosec B311
    teams = _teams(staff, buildings)
    diary = _Diary({r["code"] for r in staff if r["on_duty"] == "false"})
    rows: list[dict[str, Any]] = []
    for code, polygon in grids:
        team = teams[code]
        here = [b for b in buildings if b.grid == code]
        spots = _spots(rng, polygon, here)
        loggers = [(w, ROUND_KINDS, WORKER_ROUNDS[role]) for w, role in team.workers]
        loggers += [
            (v, TEAM_KINDS[t], VOLUNTEER_ROUNDS)
            for v, t in team.volunteers
            if rng.random() < VOLUNTEERS_LOGGING
        ]
        for logger, kinds, (fewest, most) in loggers:
            for kind in kinds:
                for month in range(MONTHS):
                    for _ in range(rng.randint(fewest, most)):
                        row = _round(rng, diary, team, code, here, spots, logger, kind, month)
                        if row is not None:
                            rows.append(row)
    rows.sort(key=lambda r: (-r["days_ago"], r["time"], r["grid"], r["staff"]))
    return rows


def _teams(staff: Sequence[dict[str, str]], buildings: Sequence[Any]) -> dict[str, _Team]:
    teams: dict[str, _Team] = {}
    grid_of = {b.code: b.grid for b in buildings}
    for r in staff:
        if r["role"] == "building_head":
            teams.setdefault(grid_of[r["building"]], _Team()).heads[r["building"]] = r["code"]
        elif r["role"] == "volunteer":
            teams.setdefault(r["grid"], _Team()).volunteers.append((r["code"], r["team"]))
        elif r.get("grid"):
            teams.setdefault(r["grid"], _Team()).workers.append((r["code"], r["role"]))
    return teams


def _spots(rng: random.Random, polygon: Polygon, here: Sequence[Any]) -> list[Point]:
    """A few open places of a grid, well inside it and clear of buildings."""
    inner = polygon.buffer(-SPOT_EDGE_M)
    x0, y0, x1, y1 = inner.bounds
    spots: list[Point] = []
    while len(spots) < SPOTS_PER_GRID:
        p = Point(round(rng.uniform(x0, x1), 1), round(rng.uniform(y0, y1), 1))
        if inner.contains(p) and all(b.shape.polygon.distance(p) >= SPOT_BUILDING_M for b in here):
            spots.append(p)
    return spots


def _round(
    rng: random.Random,
    diary: _Diary,
    team: _Team,
    grid: str,
    here: Sequence[Any],
    spots: Sequence[Point],
    logger: str,
    kind: str,
    month: int,
) -> dict[str, Any] | None:
    """One round ``logger`` logs in ``month`` (0: the latest), or None when they have no time."""
    for _attempt in range(10):
        day = month * MONTH_DAYS + rng.randint(1, MONTH_DAYS)
        half = rng.randrange(len(HALF_DAYS))
        if diary.free(logger, day, half):
            break
    else:
        return None
    places, weights = zip(*PLACES[kind])
    place = rng.choices(places, weights)[0]
    building = ""
    position: list[float] = []
    crew = [logger]
    if place == "building":
        homes = [b for b in here if b.kind != "commercial"] if kind == "home_help" else []
        b = rng.choice(homes or list(here))
        building = b.code
        # The building's head knows its residents: often along.
        head = team.heads.get(b.code)
        if head and rng.random() < 0.5 and diary.free(head, day, half):
            crew.append(head)
    elif place == "point":
        position = to_lonlat(rng.choice(spots).coords[0])
    others = [c for c, _ in team.workers if c != logger]
    volunteers = [c for c, _ in team.volunteers if c != logger]
    rng.shuffle(volunteers)
    if kind == "home_help":
        # Help for the elderly and the sick: their teams' volunteers first.
        helpers = {c for c, t in team.volunteers if t in ("orange", "white")}
        volunteers.sort(key=lambda c: c not in helpers)
    if rng.random() < 0.5:
        crew += [c for c in others if diary.free(c, day, half)]
    wanted = rng.choice((0, 1, 1, 2))
    crew += [c for c in volunteers if diary.free(c, day, half)][:wanted]
    diary.book(crew, day, half)
    start = rng.randrange(HALF_DAYS[half][0], HALF_DAYS[half][1] + 1, 10)
    return {
        "kind": kind,
        "grid": grid,
        "building": building,
        "lon": position[0] if position else "",
        "lat": position[1] if position else "",
        "days_ago": day,
        "time": f"{start // 60:02d}:{start % 60:02d}",
        "staff": ";".join(crew),
        "others": rng.choice(OTHERS[kind]) if rng.random() < OTHERS_SHARE else "",
        "findings": rng.choice(FINDINGS[kind]),
    }


def load_rounds(session: Session, path: Path, community_code: str, *, actor: Principal) -> int:
    """Log the rounds of ``rounds.csv``, dated back from today (display zone); return how many.

    Each goes through :func:`gridgis.staff.rounds.log_round`, which checks and
    audits it: at a building or a point, the round's grid is the one the
    domain finds there, and it must be the grid the file names.

    Raises:
        InvalidFile: A grid, building or staff code the community does not
            have, a place outside the grid named, or a round the domain refuses.
    """
    table = tables.read_table(path)
    community_id = session.scalar(sa.select(Community.id).where(Community.code == community_code))
    grids = dict(
        session.execute(
            sa.select(Grid.code, Grid.id)
            .join(Layout, Grid.layout_id == Layout.id)
            .where(Layout.community_id == community_id, in_force_clause(clock.now()))
        ).all()
    )
    buildings = dict(
        session.execute(
            sa.select(Building.code, Building.id).where(Building.community_id == community_id)
        ).all()
    )
    staff = dict(
        session.execute(
            sa.select(Staff.code, Staff.id).where(Staff.community_id == community_id)
        ).all()
    )
    today = clock.local(clock.now()).date()
    zone = clock.local(clock.now()).tzinfo
    count = 0
    for where, r in zip(table.labels, table.records()):
        codes = r["staff"].split(";")
        if (
            r["grid"] not in grids
            or (r["building"] and r["building"] not in buildings)
            or any(c not in staff for c in codes)
        ):
            raise InvalidFile(f"{path}: {where}: unknown grid, building or staff code.")
        day = today - dt.timedelta(days=int(r["days_ago"]))
        point = r["lon"] != ""
        try:
            found = log_round(
                session,
                actor=actor,
                kind=r["kind"],
                started_at=dt.datetime.combine(day, dt.time.fromisoformat(r["time"]), tzinfo=zone),
                # The grid is named only for a round held in the grid as a whole:
                # elsewhere the domain finds it from the place.
                grid_id=None if r["building"] or point else grids[r["grid"]],
                building_id=buildings[r["building"]] if r["building"] else None,
                lon=float(r["lon"]) if point else None,
                lat=float(r["lat"]) if point else None,
                participants=[staff[c] for c in codes],
                include_self=False,
                others=r["others"],
                findings=r["findings"],
            )
        except InvalidInput as exc:
            raise InvalidFile(f"{path}: {where}: {exc.user_msg}") from exc
        if found.grid_id != grids[r["grid"]]:
            raise InvalidFile(f"{path}: {where}: the round's place is not in grid {r['grid']}.")
        count += 1
    return count
