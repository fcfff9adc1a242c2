"""Rounds (四进): logging one (its place, grid, people, audit) and who reads which.

On the sample community (three grids side by side; 张三 S1 is G1's grid
worker, 钱七 S5 heads B01, 孙八 S6 heads unit B01/1), at 5 December 2026.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import ROLE_PERMISSIONS, Forbidden, Principal
from gridgis.errors import InvalidInput, NotFound
from gridgis.models import AuditEntry, Building, Compound, Grid, Round, RoundParticipant, Staff
from gridgis.staff.round_listing import rounds_of
from gridgis.staff.rounds import log_round
from tests.support import factories as make
from tests.support.households import household
from tests.support.incidents import person
from tests.support.reports import IN_B03, NOW, bj, staff_account
from tests.support.sample_community import build_sample_community

ADMIN = person("admin")


@pytest.fixture
def world(db_session: Session) -> Iterator[dict[str, int]]:
    """Ids by name: grids G1-G3, buildings, the compound, staff, and a household of B01/1."""
    build_sample_community(db_session)
    ids: dict[str, int] = {}
    for grid in db_session.scalars(sa.select(Grid).where(Grid.code.like("4%"))):
        ids[f"G{int(grid.code[-3:])}"] = grid.id
    for building in db_session.scalars(sa.select(Building)):
        ids[building.code] = building.id
    for staff in db_session.scalars(sa.select(Staff)):
        ids[staff.code] = staff.id
    compound = db_session.scalar(sa.select(Compound))
    assert compound is not None
    ids["XQ01"] = compound.id
    b01 = db_session.get(Building, ids["B01"])
    assert b01 is not None
    unit_1 = next(u for u in b01.units if u.number == "1")
    unit_2 = next(u for u in b01.units if u.number == "2")
    ids["H1"] = household(db_session, b01, "H1", unit=unit_1, flags=("elderly_alone",)).id
    ids["H2"] = household(db_session, b01, "H2", unit=unit_2).id
    with clock.frozen(NOW):
        yield ids


def account(session: Session, code: str) -> Principal:
    return staff_account(session, code, f"user_{code.lower()}")


def count(session: Session) -> tuple[int, int, int]:
    return (
        session.scalar(sa.select(sa.func.count()).select_from(Round)) or 0,
        session.scalar(sa.select(sa.func.count()).select_from(RoundParticipant)) or 0,
        session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.entity == "round")
        )
        or 0,
    )


def test_a_round_at_a_building_gets_its_grid_and_compound_and_is_audited(
    db_session: Session, world: dict[str, int]
) -> None:
    s1 = account(db_session, "S1")
    found = log_round(
        db_session,
        actor=s1,
        kind="collection",
        started_at=bj(11, 18, 19),
        building_id=world["B01"],
        participants=[world["S2"]],
        others="幸福物业 王经理",
        findings="楼道灯坏了；3楼刘桂英家门口堆物",
    )
    assert (found.community_id, found.grid_id, found.compound_id, found.building_id) == (
        db_session.get(Building, world["B01"]).community_id,  # type: ignore[union-attr]
        world["G1"],
        world["XQ01"],
        world["B01"],
    )
    assert found.logged_by == "user:user_s1" and found.logged_at == NOW
    people = db_session.scalars(
        sa.select(RoundParticipant.staff_id).where(RoundParticipant.round_id == found.id)
    ).all()
    assert sorted(people) == sorted([world["S1"], world["S2"]])  # the actor by default
    entry = db_session.scalar(sa.select(AuditEntry).where(AuditEntry.entity == "round"))
    assert entry is not None
    assert (entry.actor, entry.action, entry.entity_id) == ("user:user_s1", "create", str(found.id))
    assert entry.after is not None and entry.after["participants"] == sorted(people)
    # Free text may name residents and partners: the audit log keeps ids only.
    logged = repr((entry.before, entry.after, entry.note))
    assert "刘桂英" not in logged and "王经理" not in logged and "楼道灯" not in logged


def test_a_round_at_a_household_is_in_its_unit_and_building(
    db_session: Session, world: dict[str, int]
) -> None:
    s6 = account(db_session, "S6")  # the head of unit B01/1
    found = log_round(
        db_session,
        actor=s6,
        kind="home_help",
        started_at=bj(11, 27, 10),
        household_id=world["H1"],
        include_self=False,
        participants=[world["S5"]],
    )
    assert (found.building_id, found.household_id, found.grid_id) == (
        world["B01"],
        world["H1"],
        world["G1"],
    )
    people = db_session.scalars(
        sa.select(RoundParticipant.staff_id).where(RoundParticipant.round_id == found.id)
    ).all()
    assert people == [world["S5"]]


def test_a_round_at_a_position_or_a_compound(db_session: Session, world: dict[str, int]) -> None:
    at_point = log_round(
        db_session,
        actor=ADMIN,
        kind="inventory",
        started_at=bj(11, 2),
        lon=IN_B03[0],
        lat=IN_B03[1],
    )
    assert at_point.grid_id == world["G2"] and at_point.geom is not None
    # The compound spans G1 and G2: the grid given says which one the round covered.
    in_g2 = log_round(
        db_session,
        actor=ADMIN,
        kind="publicity",
        started_at=bj(11, 6),
        compound_id=world["XQ01"],
        grid_id=world["G2"],
    )
    assert (in_g2.grid_id, in_g2.compound_id) == (world["G2"], world["XQ01"])
    # Without one, the rule of which grid a building belongs to picks one, always the same.
    alone = log_round(
        db_session, actor=ADMIN, kind="publicity", started_at=bj(11, 6), compound_id=world["XQ01"]
    )
    assert alone.grid_id in (world["G1"], world["G2"])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "party", "grid_id": "G1"}, "kind must be one of inventory (进网格自查盘点)"),
        ({}, "Say where the round was"),
        ({"lon": 114.3}, "Give both lon and lat"),
        ({"lon": 120.0, "lat": 40.0}, "No grid in force on 2026-11-02 holds that position"),
        ({"started_at": bj(12, 6), "grid_id": "G1"}, "is in the future"),
        (
            {"started_at": dt.datetime(2026, 11, 2, 9), "grid_id": "G1"},
            "needs a time zone",
        ),
        ({"building_id": "B03", "grid_id": "G1"}, "Building B03 is not in grid"),
        ({"building_id": "B04", "compound_id": "XQ01"}, "Building B04 is not in compound"),
        ({"grid_id": "G1", "findings": "很" * 5001}, "Findings hold at most 5000 characters"),
        ({"grid_id": "G1", "others": "人" * 501}, "'others' holds at most 500 characters"),
        ({"grid_id": "G1", "participants": [999_999]}, "these staff ids are not: 999999"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    db_session: Session, world: dict[str, int], fields: dict[str, object], message: str
) -> None:
    values: dict[str, object] = {"kind": "inventory", "started_at": bj(11, 2)}
    for key, value in fields.items():
        values[key] = world[value] if isinstance(value, str) and key.endswith("_id") else value
    before = count(db_session)
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        log_round(db_session, actor=ADMIN, **values)  # type: ignore[arg-type]
    assert count(db_session) == before


def test_places_that_do_not_exist_are_not_found(db_session: Session, world: dict[str, int]) -> None:
    for place in ("grid_id", "compound_id", "building_id", "household_id"):
        with pytest.raises(NotFound):
            log_round(
                db_session,
                actor=ADMIN,
                kind="inventory",
                started_at=bj(11, 2),
                **{place: 999_999},  # type: ignore[arg-type]
            )


def test_participants_must_be_of_the_rounds_community(
    db_session: Session, world: dict[str, int]
) -> None:
    elsewhere = make.community(db_session, "C-OTHER")
    stranger = make.staff(db_session, elsewhere, "X1", "外人")
    with pytest.raises(InvalidInput, match=f"these staff ids are not: {stranger.id}"):
        log_round(
            db_session,
            actor=ADMIN,
            kind="inventory",
            started_at=bj(11, 2),
            grid_id=world["G1"],
            participants=[stranger.id],
        )


def test_grid_staff_log_rounds_in_their_own_area_only(
    db_session: Session, world: dict[str, int]
) -> None:
    s1, s6 = account(db_session, "S1"), account(db_session, "S6")
    before = count(db_session)
    with pytest.raises(Forbidden, match="outside your area"):
        log_round(db_session, actor=s1, kind="inventory", started_at=bj(11, 2), grid_id=world["G2"])
    # A unit head answers for their unit: not the building's other unit, not the grid.
    with pytest.raises(Forbidden):
        log_round(
            db_session, actor=s6, kind="home_help", started_at=bj(11, 2), household_id=world["H2"]
        )
    with pytest.raises(Forbidden):
        log_round(db_session, actor=s6, kind="inventory", started_at=bj(11, 2), grid_id=world["G1"])
    assert count(db_session) == before
    assert (
        log_round(
            db_session, actor=s6, kind="home_help", started_at=bj(11, 2), household_id=world["H1"]
        ).grid_id
        == world["G1"]
    )


@pytest.mark.parametrize("role", ["dispatcher", "planner", "viewer"])
def test_roles_without_rounds_write_log_none(
    db_session: Session, world: dict[str, int], role: str
) -> None:
    with pytest.raises(Forbidden, match="rounds:write"):
        log_round(
            db_session,
            actor=person(role),
            kind="inventory",
            started_at=bj(11, 2),
            grid_id=world["G1"],
        )


@pytest.fixture
def logged(db_session: Session, world: dict[str, int]) -> dict[str, int]:
    """Rounds: three in G1 (one with 钱七), one in G2 by the administrator, one in October."""
    s1 = account(db_session, "S1")
    made = {
        "g1_inventory": log_round(
            db_session, actor=s1, kind="inventory", started_at=bj(11, 2), grid_id=world["G1"]
        ),
        "g1_help": log_round(
            db_session,
            actor=s1,
            kind="home_help",
            started_at=bj(11, 27),
            household_id=world["H1"],
            participants=[world["S5"]],
        ),
        "g1_october": log_round(
            db_session, actor=s1, kind="inventory", started_at=bj(10, 31, 23), grid_id=world["G1"]
        ),
        "g2": log_round(
            db_session,
            actor=ADMIN,
            kind="inventory",
            started_at=bj(11, 11),
            grid_id=world["G2"],
            participants=[world["S5"]],
        ),
    }
    return {name: r.id for name, r in made.items()}


def test_administrators_read_every_round_newest_first(
    db_session: Session, logged: dict[str, int]
) -> None:
    found = rounds_of(db_session, ADMIN)
    assert [r.id for r in found] == [
        logged["g1_help"],
        logged["g2"],
        logged["g1_inventory"],
        logged["g1_october"],
    ]
    help_ = found[0]
    assert help_.kind_name("zh") == "进家门提供帮助" and help_.kind_name("en") == "Help at home"
    assert (help_.grid, help_.building, help_.compound) == ("420106001002001", "B01", "XQ01")
    assert [(p.code, p.name, p.masked) for p in help_.participants] == [
        ("S1", "张三", False),
        ("S5", "钱七", False),
    ]


def test_filters_by_month_grid_and_kind(db_session: Session, logged: dict[str, int]) -> None:
    november = {"since": bj(11, 1, 0), "until": bj(12, 1, 0)}
    assert {r.id for r in rounds_of(db_session, ADMIN, **november)} == {
        logged["g1_help"],
        logged["g2"],
        logged["g1_inventory"],
    }
    assert [r.id for r in rounds_of(db_session, ADMIN, grid="420106001002002")] == [logged["g2"]]
    assert [r.id for r in rounds_of(db_session, ADMIN, kind="home_help")] == [logged["g1_help"]]
    with pytest.raises(InvalidInput, match="kind must be one of"):
        rounds_of(db_session, ADMIN, kind="party")
    with pytest.raises(NotFound, match="No community"):
        rounds_of(db_session, ADMIN, community="nowhere")


def test_grid_staff_read_their_areas_rounds_and_the_ones_they_took_part_in(
    db_session: Session, logged: dict[str, int]
) -> None:
    s1 = account(db_session, "S1")
    assert {r.id for r in rounds_of(db_session, s1)} == {
        logged["g1_help"],
        logged["g1_inventory"],
        logged["g1_october"],
    }
    # 钱七 heads B01: the round at B01, and the one in G2 he took part in.
    s5 = account(db_session, "S5")
    assert {r.id for r in rounds_of(db_session, s5)} == {logged["g1_help"], logged["g2"]}


def test_names_follow_the_privacy_rule_and_others_may_not_read(
    db_session: Session, logged: dict[str, int]
) -> None:
    # Someone who reads reports but not contacts (no role has it so: the rule still decides).
    reader = Principal(kind="apikey", name="reports", permissions=frozenset({"reports:read"}))
    found = {r.id: r for r in rounds_of(db_session, reader)}
    assert [(p.name, p.masked) for p in found[logged["g1_help"]].participants] == [
        ("张*", True),
        ("钱*", True),
    ]
    assert "rounds:write" in ROLE_PERMISSIONS["grid_staff"]
    for role in ("planner", "viewer"):
        with pytest.raises(Forbidden, match="reading rounds"):
            rounds_of(db_session, person(role))
