"""The one clock: aware times, frozen for tests, shown in the display zone."""

from __future__ import annotations

import datetime as dt

import pytest

from gridgis import clock
from gridgis.errors import GridgisError, InvalidInput

T0 = dt.datetime(2026, 12, 1, 1, 30, tzinfo=dt.UTC)


def test_now_is_aware_utc() -> None:
    now = clock.now()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)


def test_frozen_time_stands_still_and_moves_when_told() -> None:
    with clock.frozen(T0) as fixed:
        assert clock.now() == T0
        fixed.advance(minutes=31)
        assert clock.now() == T0 + dt.timedelta(minutes=31)
        assert clock.timestamp() == (T0 + dt.timedelta(minutes=31)).timestamp()
    assert clock.now() != T0 + dt.timedelta(minutes=31)


def test_a_naive_frozen_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match="needs a time zone"):
        clock.FixedClock(dt.datetime(2026, 12, 1, 9, 30))


def test_times_are_shown_in_shanghai_by_default() -> None:
    # 01:30 UTC is 09:30 in Beijing: what a grid worker reads.
    assert clock.show(T0) == "2026-12-01 09:30"
    assert clock.local(T0).utcoffset() == dt.timedelta(hours=8)
    assert clock.show(None) == "-"


def test_display_zone_is_configurable() -> None:
    try:
        clock.configure("Europe/Vienna")
        assert clock.show(T0) == "2026-12-01 02:30"
    finally:
        clock.configure(clock.DEFAULT_TIMEZONE)


def test_an_unknown_zone_says_what_to_write() -> None:
    with pytest.raises(GridgisError, match=r"GRIDGIS_TIMEZONE='Mars/Olympus' is not a time zone"):
        clock.configure("Mars/Olympus")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "must be an ISO 8601 time"),
        ("2026-11-29T08:00", "needs a time zone, e.g. 2026-11-29T08:00\\+08:00"),
    ],
)
def test_parse_time_refuses_what_it_cannot_place(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        clock.parse_time(text, "--at")


def test_parse_time_keeps_the_zone() -> None:
    at = clock.parse_time("2026-11-29T08:00:00+08:00")
    assert at == dt.datetime(2026, 11, 29, 0, 0, tzinfo=dt.UTC)
    assert clock.parse_time("") is None
