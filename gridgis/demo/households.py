"""The demo community's households (户) and the visits already logged to them.

Every unit gets as many households as the generated data says it holds
(floors × households per floor), in rooms numbered floor by floor (101, 102,
201 ...). About one in ten carries care flags, in the mixes a community office
sees: retirees most, elderly people living alone (often retirees too),
hardship households (more of them in the urban village), a few petitioners.
Names are made up and phones are 13X-0000-NNNN, plainly not real numbers.

The flagged households have weeks of visits behind them, by their unit head
or their grid's workers, written as days before the day the demo is loaded
(``visits.csv``), so that whenever it is loaded its due list holds overdue,
due and not-yet-due households, and a few never visited. Everything comes
from its own seeded generator: the other demo files do not change with it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Principal
from gridgis.config import DEFAULT_VISIT_INTERVALS
from gridgis.errors import InvalidFile
from gridgis.geo import tables
from gridgis.models import CARE_FLAGS, Community, Household, Staff
from gridgis.staff.visit_log import PastVisit, log_visits
from gridgis.staff.visits import parse_intervals

HOUSEHOLD_FIELDS = [
    "code",
    "building",
    "unit",
    "room",
    "head_name",
    "phone",
    "members",
    "care_flags",
    "note",
    "registered",
]
VISIT_FIELDS = ["household", "staff", "days_ago", "time", "findings"]
#: The demo's households were registered when its first layout came in force.
REGISTERED = "2026-01-01"
#: How far back the logged visits go, in days.
HISTORY_DAYS = 70
#: Share of households with care flags, by kind of building (the village is poorer and older).
FLAGGED_SHARE = {"residential": 0.095, "commercial": 0.06, "village": 0.14}
#: Flag mixes with their weights; the village weighs hardship up.
MIXES: list[tuple[tuple[str, ...], int, int]] = [  # flags, weight, weight in the village
    (("retiree",), 34, 14),
    (("elderly_alone", "retiree"), 14, 10),
    (("elderly_alone",), 12, 14),
    (("hardship",), 14, 30),
    (("hardship", "elderly_alone"), 6, 14),
    (("petitioner",), 8, 8),
    (("petitioner", "hardship"), 4, 6),
    (("hardship", "retiree"), 8, 4),
]
#: Where each flagged household stands at load: never visited, overdue, due, not yet due.
STANDING = (("never", 4), ("overdue", 22), ("due", 18), ("not_due", 56))
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡蒋余杜叶程魏"
)
#: Given names as people born from the 1940s to the 1990s were named.
GIVEN = [
    "桂英",
    "秀兰",
    "玉兰",
    "凤英",
    "淑珍",
    "桂芳",
    "秀英",
    "建国",
    "建华",
    "国庆",
    "德胜",
    "志强",
    "卫东",
    "红梅",
    "丽华",
    "海燕",
    "春生",
    "金花",
    "爱民",
    "德明",
    "永红",
    "文斌",
    "晓东",
    "俊杰",
    "婷婷",
    "磊",
    "静",
    "勇",
    "敏",
    "涛",
    "芳",
    "伟",
    "军",
    "霞",
    "平",
    "刚",
    "燕",
    "娟",
    "杰",
    "超",
]
PHONE_PREFIXES = ("139", "138", "137", "136", "135", "150", "151", "186", "188")
NOTES = {
    "elderly_alone": ("独居，子女在外地工作", "独居，行动不便", "独居，患高血压需定期随访"),
    "hardship": ("低保户", "因病致困，已申请临时救助", "残疾人家庭"),
    "retiree": ("退休教师", "退休职工，老党员", "企业退休人员"),
    "petitioner": ("反映小区停车问题，持续关注", "反映房屋漏水问题，已协调物业"),
}
FINDINGS = (
    "身体状况良好，生活能够自理",
    "询问近期用药情况，提醒按时复查",
    "检查燃气和用电安全，未发现隐患",
    "补助已按时到账，生活暂无困难",
    "家属在家，沟通近期需求，无特殊诉求",
    "宣传防诈骗知识，发放宣传资料",
    "了解诉求办理进展，情绪稳定",
    "协助预约社区卫生服务中心体检",
    "反映楼道照明不足，已转物业处理",
    "天气转凉，提醒注意保暖",
)


def generate(
    buildings: Sequence[Any], staff: Sequence[dict[str, str]], seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The households of every unit of ``buildings`` and the visits to the flagged ones."""
    # Its own seeded generator: the other demo files come out the same as before.
    rng = random.Random(f"households-{seed}")  # nosec B311
    intervals = parse_intervals(DEFAULT_VISIT_INTERVALS)
    visitors = _visitors(staff)
    phones = [f"{p}0000{n:04d}" for p in PHONE_PREFIXES for n in range(10_000)]
    rng.shuffle(phones)
    households: list[dict[str, Any]] = []
    visits: list[dict[str, Any]] = []
    for b in buildings:
        for unit in range(1, len(b.shape.units) + 1):
            for floor in range(1, b.floors + 1):
                for door in range(1, b.households_per_floor + 1):
                    room = f"{floor}{door:02d}"
                    home = _household(rng, b, unit, room, phones.pop())
                    households.append(home)
                    if home["care_flags"]:
                        flags = home["care_flags"].split(";")
                        interval = min(intervals[f] for f in flags)
                        who = visitors.get((b.code, str(unit))) or visitors[(b.grid, "")]
                        visits.extend(_history(rng, home["code"], interval, who))
    return households, visits


def _visitors(staff: Sequence[dict[str, str]]) -> dict[tuple[str, str], list[str]]:
    """Who visits: a unit's head, else the grid's full-time and part-time workers."""
    out: dict[tuple[str, str], list[str]] = {}
    for r in staff:
        if r["role"] == "unit_head":
            out.setdefault((r["building"], r["unit"]), []).append(r["code"])
        elif r["role"] in ("grid_worker", "part_time_worker"):
            out.setdefault((r["grid"], ""), []).append(r["code"])
    return out


def _household(rng: random.Random, b: Any, unit: int, room: str, phone: str) -> dict[str, Any]:
    flags: tuple[str, ...] = ()
    if rng.random() < FLAGGED_SHARE[b.kind]:
        village = b.kind == "village"
        mixes = [m for m, _, _ in MIXES]
        weights = [wv if village else w for _, w, wv in MIXES]
        flags = rng.choices(mixes, weights)[0]
    alone = "elderly_alone" in flags
    members = 1 if alone else rng.choices((1, 2, 3, 4, 5, 6), (8, 30, 30, 20, 8, 4))[0]
    note = rng.choice(NOTES[flags[0]]) if flags and rng.random() < 0.6 else ""
    return {
        "code": f"{b.code}-{unit}-{room}",
        "building": b.code,
        "unit": str(unit),
        "room": room,
        "head_name": rng.choice(SURNAMES) + rng.choice(GIVEN),
        "phone": "" if rng.random() < 0.04 else phone,
        "members": members,
        "care_flags": ";".join(f for f in CARE_FLAGS if f in flags),
        "note": note,
        "registered": REGISTERED,
    }


def _history(
    rng: random.Random, code: str, interval: int, visitors: list[str]
) -> list[dict[str, Any]]:
    """Visits back to :data:`HISTORY_DAYS` days, the last one placing the household in STANDING."""
    standing = rng.choices([s for s, _ in STANDING], [w for _, w in STANDING])[0]
    if standing == "never":
        return []
    # due_on = last visit + interval: overdue when the last visit was more than
    # `interval` days ago, due within 3 days of it, else not yet due.
    if standing == "overdue":
        last = interval + rng.randint(1, min(interval, 12))
    elif standing == "due":
        last = rng.randint(max(1, interval - 3), interval)
    else:
        last = rng.randint(1, max(1, interval - 4))
    days = [last]
    while days[-1] + interval <= HISTORY_DAYS:
        days.append(days[-1] + max(1, round(interval * rng.uniform(0.75, 1.05))))
    return [
        {
            "household": code,
            "staff": rng.choice(visitors),
            "days_ago": d,
            "time": f"{rng.randint(9, 16):02d}:{rng.choice((0, 10, 20, 30, 40, 50)):02d}",
            "findings": rng.choice(FINDINGS),
        }
        for d in sorted(days, reverse=True)
    ]


def write_csv(path: Path, fields: list[str], rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="\n")


def load_visits(session: Session, path: Path, community_code: str, *, actor: Principal) -> int:
    """Log the visits of ``visits.csv``, dated back from today (display zone); return how many.

    Raises:
        InvalidFile: A household or staff code the community does not have.
    """
    table = tables.read_table(path)
    community_id = session.scalar(sa.select(Community.id).where(Community.code == community_code))
    homes = dict(
        session.execute(
            sa.select(Household.code, Household.id).where(Household.community_id == community_id)
        ).all()
    )
    staff = dict(
        session.execute(
            sa.select(Staff.code, Staff.id).where(Staff.community_id == community_id)
        ).all()
    )
    today = clock.local(clock.now()).date()
    zone = clock.local(clock.now()).tzinfo
    visits = []
    for where, r in zip(table.labels, table.records()):
        if r["household"] not in homes or r["staff"] not in staff:
            raise InvalidFile(f"{path}: {where}: unknown household or staff code.")
        day = today - dt.timedelta(days=int(r["days_ago"]))
        at = dt.datetime.combine(day, dt.time.fromisoformat(r["time"]), tzinfo=zone)
        visits.append(PastVisit(homes[r["household"]], at, r["findings"], staff[r["staff"]]))
    return log_visits(session, visits, actor=actor)
