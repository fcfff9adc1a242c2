"""The demo's households and visits (gridgis.demo.households): believable, fictional, reproducible.

No database here: the generated files are read as CSV; loading them is in test_loader.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from gridgis.config import DEFAULT_VISIT_INTERVALS
from gridgis.demo.generate import SHAPES_DIR, generate
from gridgis.demo.households import HISTORY_DAYS
from gridgis.staff.visits import due_on, parse_intervals, status_of

INTERVALS = parse_intervals(DEFAULT_VISIT_INTERVALS)


def read(directory: Path, name: str) -> list[dict[str, str]]:
    with (directory / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def files() -> dict[str, list[dict[str, str]]]:
    return {n: read(SHAPES_DIR, f"{n}.csv") for n in ("households", "visits", "staff")}


def test_every_unit_has_its_households_in_numbered_rooms(
    files: dict[str, list[dict[str, str]]],
) -> None:
    units = json.loads((SHAPES_DIR / "units.geojson").read_text("utf-8"))["features"]
    expected = {(u["properties"]["building"], u["properties"]["number"]): u for u in units}
    homes = files["households"]
    per_unit = Counter((h["building"], h["unit"]) for h in homes)
    assert per_unit == {k: u["properties"]["households"] for k, u in expected.items()}
    assert len({h["code"] for h in homes}) == len(homes)
    for h in homes:
        assert h["code"] == f"{h['building']}-{h['unit']}-{h['room']}"
        assert re.fullmatch(r"[1-9]\d?0[1-4]", h["room"]), h["room"]
        assert h["registered"] == "2026-01-01"


def test_names_and_phones_are_plainly_made_up(files: dict[str, list[dict[str, str]]]) -> None:
    homes = files["households"]
    phones = [h["phone"] for h in homes if h["phone"]]
    assert all(re.fullmatch(r"1[358]\d0000\d{4}", p) for p in phones)
    assert len(set(phones)) == len(phones) and len(phones) > 0.9 * len(homes)
    staff_phones = {s["phone"] for s in files["staff"]}
    assert not staff_phones & set(phones)
    assert all(2 <= len(h["head_name"]) <= 3 for h in homes)


def test_about_one_in_ten_is_flagged_in_realistic_mixes(
    files: dict[str, list[dict[str, str]]],
) -> None:
    homes = files["households"]
    flagged = [h for h in homes if h["care_flags"]]
    assert 0.08 <= len(flagged) / len(homes) <= 0.12
    mixes = Counter(h["care_flags"] for h in flagged)
    assert {"retiree", "hardship", "elderly_alone", "petitioner"} <= set(mixes)
    assert mixes["retiree"] == max(mixes.values())
    assert any(";" in m for m in mixes)
    assert all(h["members"] == "1" for h in flagged if "elderly_alone" in h["care_flags"])
    assert all(h["note"] == "" for h in homes if not h["care_flags"])


def test_visits_put_households_in_every_place_of_the_schedule(
    files: dict[str, list[dict[str, str]]],
) -> None:
    homes = {h["code"]: h for h in files["households"]}
    visits = files["visits"]
    staff = files["staff"]
    heads = {(s["building"], s["unit"]): s["code"] for s in staff if s["role"] == "unit_head"}
    last: dict[str, int] = {}
    for v in visits:
        home = homes[v["household"]]
        assert home["care_flags"], v
        assert v["staff"] == heads[(home["building"], home["unit"])]
        interval = min(INTERVALS[f] for f in home["care_flags"].split(";"))
        assert 1 <= int(v["days_ago"]) <= HISTORY_DAYS + interval
        assert re.fullmatch(r"(09|1[0-6]):[0-5]0", v["time"])
        last[v["household"]] = min(last.get(v["household"], 999), int(v["days_ago"]))
    beijing = dt.timezone(dt.timedelta(hours=8))
    now = dt.datetime(2026, 12, 1, 18, 0, tzinfo=beijing)
    registered = dt.datetime(2026, 1, 1, tzinfo=beijing)
    standing: Counter[str] = Counter()
    for code, h in homes.items():
        if not h["care_flags"]:
            continue
        if code not in last:
            standing["never"] += 1
            continue
        interval = min(INTERVALS[f] for f in h["care_flags"].split(";"))
        at = now - dt.timedelta(days=last[code])
        standing[status_of(due_on(interval, at, registered), now.date()) or ""] += 1
    flagged = sum(standing.values())
    assert standing["never"] >= 5 and standing["overdue"] >= 0.1 * flagged
    assert standing["due"] >= 0.08 * flagged and standing["not_due"] >= 0.4 * flagged


def test_another_seed_gives_other_households(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=1)
    generate(tmp_path / "b", seed=2)
    a, b = read(tmp_path / "a", "households.csv"), read(tmp_path / "b", "households.csv")
    assert [h["head_name"] for h in a] != [h["head_name"] for h in b]
