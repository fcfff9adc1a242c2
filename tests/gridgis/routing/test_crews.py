"""Teams composed column-wise are assemble_team's, lead and members, on random rosters."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from gridgis.routing.crews import RosterRow, crew_columns
from gridgis.staff.team import assemble_team

TEAMS = ["red", "blue", "white"]


def random_rosters(rng: random.Random) -> list[RosterRow]:
    """Rosters of 4 grids, 5 buildings and 5 units; staff shared across roles and places."""
    rows: list[RosterRow] = []
    staff = list(range(1, 13))
    for grid in range(1, 5):
        for role in ("grid_worker", "part_time_worker"):
            if rng.random() < 0.8:
                sid = rng.choice(staff)
                rows.append((role, grid, None, None, sid, f"S{sid:02d}", None, rng.random() < 0.8))
        for sid in rng.sample(staff, rng.randint(0, 4)):
            team = rng.choice(TEAMS)
            rows.append(
                ("volunteer", grid, None, None, sid, f"S{sid:02d}", team, rng.random() < 0.8)
            )
    for role, column in (("building_head", 2), ("unit_head", 3)):
        for place in range(1, 6):
            if rng.random() < 0.7:
                sid = rng.choice(staff)
                ids: list[Any] = [None, None, None]
                ids[column - 1] = place
                row = (role, *ids, sid, f"S{sid:02d}", None, rng.random() < 0.8)
                rows.append(row)  # type: ignore[arg-type]
    # The roster statement's order: role, then code.
    return sorted(rows, key=lambda r: (r[0], r[5]))


def expected(
    rows: list[RosterRow], grid: int, building: int, unit: int, team: str | None
) -> tuple[str | None, str | None]:
    keys = ("role", "grid_id", "building_id", "unit_id", "staff_id", "code", "volunteer_team")
    members = [{**dict(zip(keys, r[:7], strict=True)), "on_duty": r[7]} for r in rows]
    roster = [
        {**m, "name": "n", "phone": None}
        for kind, place in (("grid_id", grid), ("building_id", building), ("unit_id", unit))
        for m in members
        if m[kind] == place
    ]
    lead, assembled, _ = assemble_team(
        roster, team, grid_id=grid, building_id=building, unit_id=unit
    )
    text = ";".join(f"{m.role}:{m.staff_code}" for m in assembled) or None
    return (lead.staff_code if lead else None), text


@pytest.mark.parametrize("seed", range(40))
def test_crews_are_assemble_teams(seed: int) -> None:
    rng = random.Random(seed)
    rows = random_rosters(rng)
    n = 300
    grids = np.array([rng.randint(1, 5) for _ in range(n)])  # 5: a grid with no staff
    buildings = np.array([rng.randint(-1, 6) for _ in range(n)])
    units = np.array([rng.randint(-1, 6) for _ in range(n)])
    asked: list[str | None] = ["white", None, "red", ""]
    team_of_point = np.array([rng.randint(-1, len(asked) - 1) for _ in range(n)])
    composed = crew_columns(rows, grids, buildings, units, team_of_point, asked)
    assert composed is not None
    leads, teams = composed[0].to_pylist(), composed[1].to_pylist()
    for i in range(n):
        team = asked[team_of_point[i]] if team_of_point[i] >= 0 else None
        want = expected(rows, int(grids[i]), int(buildings[i]), int(units[i]), team)
        assert (leads[i], teams[i]) == want, (seed, i)


def test_rosters_of_another_shape_are_left_to_assemble_team() -> None:
    one = np.array([1])
    none = np.array([-1])
    two_leads = [
        ("grid_worker", 1, None, None, 1, "A", None, True),
        ("grid_worker", 1, None, None, 2, "B", None, True),
    ]
    assert crew_columns(two_leads, one, none, none, none, []) is None
    misplaced = [("building_head", 1, None, None, 1, "A", None, True)]
    assert crew_columns(misplaced, one, none, none, none, []) is None
    unknown = [("mayor", 1, None, None, 1, "A", None, True)]
    assert crew_columns(unknown, one, none, none, none, []) is None
    assert [x.to_pylist() for x in crew_columns([], one, none, none, none, []) or ()] == [
        [None],
        [None],
    ]
