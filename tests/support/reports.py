"""A known month for the monthly report: November 2026 in the sample community (Beijing time).

Added on top of :func:`tests.support.sample_community.build_sample_community`
(in a rolled-back session), so the domain tests and the web tests read the
same month. Every figure of the report can be worked out by hand from here:

Households (care flags; intervals elderly_alone 7, petitioner 14, hardship 30,
retiree 90 days; November has 30 days):

====  ==========  =============  ========  ====  =================================
code  place       flags          required  done  visits
====  ==========  =============  ========  ====  =================================
H1    B01/1  G1   elderly_alone  5         6→5   weekly on time, and one extra
H2    B01/2  G1   hardship       1         1     late: 30 Nov 23:30 (still November)
H3    B02    G1   petitioner     3         0     31 Oct 23:30 and 1 Dec 00:30 only
H4    B02    G1   retiree        1         0     registered 20 Nov; never visited
H5    B03/1  G2   elderly_alone  5         0     never visited
H6    B04    G3   (none)         -         -     not counted
H7    B05    G3   hardship       -         -     registered 1 Dec 00:30: not counted
H8    B01    G1   hardship       1         0     15 Oct only (no unit)
====  ==========  =============  ========  ====  =================================

Incidents (category ``parking``: respond within 1 h, resolve within 8 h, calendar time):

- I1 G1, channel visit, by 张三 (S1) on 3 Nov; accepted and reported done by
  him, closed the next day: reported, handled, not overdue.
- I2 G1, hotline, 10 Nov, never taken on: overdue.
- I3 G1, walk-in, 28 Oct; reported done by 张三 on 2 Nov: handled, not reported.
- I4 G2, phone, 20 Nov, accepted in time, reported done only on 2 Dec:
  overdue at November's end (though done now).
- I5 G1, walk-in, 30 Nov 23:30: November's; I6 G1, walk-in, 1 Dec 00:30: December's.
- I7 G3, phone, 5 Nov, rejected: reported, never overdue.
- I8 G1, mini program, 12 Nov, unclassified: reported, no deadline.
- I9 G1, walk-in, 1 Oct, closed 2 Oct: not in November at all.
- I10 G2, hotline, 25 Nov, parked: reported, not overdue.

Rounds: in G1 one of each kind by 张三 (publicity with 李四光, help at home at
H1 with 钱七), one inventory in G2 by the administrator; one on 31 Oct 23:30
and one on 1 Dec 00:30 (neither November's).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import ROLE_PERMISSIONS, Principal
from gridgis.access.scope import scope_for_staff
from gridgis.incidents.intake import take_in
from gridgis.incidents.lifecycle import move
from gridgis.models import Building, Compound, Grid, Household, Incident, Staff, Unit, User
from gridgis.staff.rounds import log_round
from tests.support import factories as make
from tests.support.households import household, visit
from tests.support.incidents import person, report

BEIJING = dt.timezone(dt.timedelta(hours=8))
MONTH = "2026-11"
#: When the tests read the report: 5 December 2026, noon in Beijing.
NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=BEIJING)
#: November's end in Beijing (what a past month is counted as of).
MONTH_END = dt.datetime(2026, 12, 1, 0, 0, tzinfo=BEIJING)
ADMIN = person("admin")
DISPATCHER = person("dispatcher")

#: Points inside the sample community's buildings and grids.
IN_B01_1 = (114.3009, 30.5911)
IN_B01_2 = (114.3011, 30.5911)
IN_B02 = (114.3010, 30.5921)
IN_G1 = (114.3015, 30.5930)
IN_B03 = (114.3026, 30.5916)
IN_B04 = (114.3047, 30.5911)


def bj(month: int, day: int, hour: int = 10, minute: int = 0, year: int = 2026) -> dt.datetime:
    """A time in Beijing."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=BEIJING)


@dataclass
class Month:
    """What :func:`add_month` made, by the names the docstring uses."""

    staff: dict[str, Staff]
    accounts: dict[str, Principal]
    grids: dict[str, Grid]
    households: dict[str, Household] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    rounds: dict[str, int] = field(default_factory=dict)


def staff_account(session: Session, code: str, username: str) -> Principal:
    """Grid staff ``code``'s account (made when missing), as the principal it logs in as."""
    person_ = session.scalar(sa.select(Staff).where(Staff.code == code))
    assert person_ is not None, code
    user = session.scalar(sa.select(User).where(User.staff_id == person_.id))
    if user is None:
        user = make.user(session, username, "grid_staff", staff_code=code)
    return Principal(
        kind="user",
        name=user.username,
        role="grid_staff",
        permissions=ROLE_PERMISSIONS["grid_staff"],
        user_id=user.id,
        staff_id=person_.id,
        scope=scope_for_staff(session, person_.id),
    )


def add_month(session: Session) -> Month:
    """Add November 2026's households, visits, incidents and rounds (flushed, not committed)."""
    staff = {s.code: s for s in session.scalars(sa.select(Staff))}
    grids = {g.code[-3:]: g for g in session.scalars(sa.select(Grid).where(Grid.code.like("4%")))}
    found = Month(
        staff=staff,
        accounts={"S1": staff_account(session, "S1", "zhangsan")},
        grids={"G1": grids["001"], "G2": grids["002"], "G3": grids["003"]},
    )
    _households(session, found)
    _incidents(session, found)
    _rounds(session, found)
    return found


def _place(
    session: Session, building: str, unit: str | None = None
) -> tuple[Building, Unit | None]:
    b = session.scalar(sa.select(Building).where(Building.code == building))
    assert b is not None
    u = None
    if unit is not None:
        u = session.scalar(sa.select(Unit).where(Unit.building_id == b.id, Unit.number == unit))
    return b, u


def _households(session: Session, month: Month) -> None:
    s1, s5 = month.staff["S1"], month.staff["S5"]
    b01, u1 = _place(session, "B01", "1")
    _, u2 = _place(session, "B01", "2")
    b02, _ = _place(session, "B02")
    b03, u31 = _place(session, "B03", "1")
    b04, _ = _place(session, "B04")
    b05, _ = _place(session, "B05")
    h = month.households
    h["H1"] = household(session, b01, "H1", unit=u1, flags=("elderly_alone",))
    for day in (1, 8, 15, 22, 29, 30):
        visit(session, h["H1"], bj(11, day), staff=s1)
    h["H2"] = household(session, b01, "H2", unit=u2, flags=("hardship",))
    visit(session, h["H2"], bj(11, 30, 23, 30), staff=s5)
    h["H3"] = household(session, b02, "H3", flags=("petitioner",))
    visit(session, h["H3"], bj(10, 31, 23, 30), staff=s1)
    visit(session, h["H3"], bj(12, 1, 0, 30), staff=s1)
    h["H4"] = household(session, b02, "H4", flags=("retiree",), registered=bj(11, 20, 9))
    h["H5"] = household(session, b03, "H5", unit=u31, flags=("elderly_alone",))
    h["H6"] = household(session, b04, "H6")
    h["H7"] = household(session, b05, "H7", flags=("hardship",), registered=bj(12, 1, 0, 30))
    h["H8"] = household(session, b01, "H8", flags=("hardship",))
    visit(session, h["H8"], bj(10, 15), staff=s1)


def _take_in(
    session: Session,
    at: dt.datetime,
    where: tuple[float, float],
    *,
    channel: str = "walk_in",
    category: str | None = "parking",
    actor: Principal = DISPATCHER,
) -> Incident:
    with clock.frozen(at):
        return take_in(
            session,
            report(where, category, channel=channel, reported_at=at, reporter_name=None),
            actor=actor,
        ).incident


def _moves(
    session: Session, incident: Incident, *steps: tuple[dt.datetime, str, Principal]
) -> None:
    for at, action, actor in steps:
        with clock.frozen(at):
            reason = "测试" if action in ("reject", "park") else None
            move(session, incident.id, action, actor=actor, reason=reason)


def _dispatched(at: dt.datetime) -> list[tuple[dt.datetime, str, Principal]]:
    return [
        (at + dt.timedelta(minutes=5), "register", DISPATCHER),
        (at + dt.timedelta(minutes=10), "dispatch", DISPATCHER),
    ]


def _incidents(session: Session, month: Month) -> None:
    s1 = month.accounts["S1"]
    i = month.incidents
    i["I1"] = _take_in(session, bj(11, 3), IN_B01_1, channel="visit", actor=s1)
    _moves(
        session,
        i["I1"],
        *_dispatched(bj(11, 3)),
        (bj(11, 3, 10, 30), "accept", s1),
        (bj(11, 3, 15), "report_done", s1),
        (bj(11, 4, 9), "close", DISPATCHER),
    )
    i["I2"] = _take_in(session, bj(11, 10), IN_B02, channel="hotline_12345")
    i["I3"] = _take_in(session, bj(10, 28), IN_G1)
    _moves(
        session,
        i["I3"],
        *_dispatched(bj(10, 28)),
        (bj(10, 28, 10, 30), "accept", s1),
        (bj(11, 2, 9), "report_done", s1),
    )
    i["I4"] = _take_in(session, bj(11, 20), IN_B03, channel="phone")
    _moves(
        session,
        i["I4"],
        *_dispatched(bj(11, 20)),
        (bj(11, 20, 10, 30), "accept", ADMIN),
        (bj(12, 2, 9), "report_done", ADMIN),
    )
    i["I5"] = _take_in(session, bj(11, 30, 23, 30), IN_B01_2)
    i["I6"] = _take_in(session, bj(12, 1, 0, 30), IN_B01_2)
    i["I7"] = _take_in(session, bj(11, 5), IN_B04, channel="phone")
    _moves(session, i["I7"], (bj(11, 5, 11), "reject", DISPATCHER))
    i["I8"] = _take_in(session, bj(11, 12), IN_G1, channel="mini_program", category=None)
    i["I9"] = _take_in(session, bj(10, 1), IN_B02)
    _moves(
        session,
        i["I9"],
        *_dispatched(bj(10, 1)),
        (bj(10, 1, 10, 30), "accept", s1),
        (bj(10, 1, 15), "report_done", s1),
        (bj(10, 2, 9), "close", DISPATCHER),
    )
    i["I10"] = _take_in(session, bj(11, 25), IN_B03, channel="hotline_12345")
    _moves(
        session,
        i["I10"],
        (bj(11, 25, 10, 5), "register", DISPATCHER),
        (bj(11, 25, 10, 6), "park", DISPATCHER),
    )


def _rounds(session: Session, month: Month) -> None:
    s1 = month.accounts["S1"]
    g1, g2 = month.grids["G1"], month.grids["G2"]
    s2, s5 = month.staff["S2"], month.staff["S5"]
    b02, _ = _place(session, "B02")
    compound = session.scalar(sa.select(Compound).where(Compound.code == "XQ01"))
    assert compound is not None
    r = month.rounds
    with clock.frozen(NOW):
        r["inventory"] = log_round(
            session, actor=s1, kind="inventory", started_at=bj(11, 2, 9), grid_id=g1.id
        ).id
        r["publicity"] = log_round(
            session,
            actor=s1,
            kind="publicity",
            started_at=bj(11, 6, 15),
            compound_id=compound.id,
            grid_id=g1.id,
            participants=[s2.id],
            others="幸福物业2人",
        ).id
        r["collection"] = log_round(
            session,
            actor=s1,
            kind="collection",
            started_at=bj(11, 18, 19),
            building_id=b02.id,
            findings="楼道灯坏了",
        ).id
        r["home_help"] = log_round(
            session,
            actor=s1,
            kind="home_help",
            started_at=bj(11, 27, 10),
            household_id=month.households["H1"].id,
            participants=[s5.id],
        ).id
        r["g2"] = log_round(
            session, actor=ADMIN, kind="inventory", started_at=bj(11, 11, 9), grid_id=g2.id
        ).id
        r["october"] = log_round(
            session, actor=s1, kind="inventory", started_at=bj(10, 31, 23, 30), grid_id=g1.id
        ).id
        r["december"] = log_round(
            session, actor=s1, kind="inventory", started_at=bj(12, 1, 0, 30), grid_id=g1.id
        ).id
