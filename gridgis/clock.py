"""What time it is: one injectable, timezone-aware clock.

Every "now" in gridgis comes from :func:`now`, an aware datetime in UTC, so a
test (or a replay of yesterday's hotline export) can set the time for the
whole process with :func:`frozen`. Times are stored aware and compared
aware; a naive time given by a user is refused with :func:`require_aware`,
never guessed. People read times in the display zone (Asia/Shanghai unless
``GRIDGIS_TIMEZONE`` says otherwise): :func:`local`.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gridgis.errors import GridgisError, InvalidInput

#: Where the community offices are; a deployment elsewhere sets GRIDGIS_TIMEZONE.
DEFAULT_TIMEZONE = "Asia/Shanghai"


class Clock:
    """The system clock. Subclasses answer differently (tests, replays)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock(Clock):
    """A clock that stands still until moved: ``clock.advance(minutes=5)``."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = require_aware(at, "the fixed time")

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, delta: dt.timedelta | None = None, **parts: float) -> dt.datetime:
        self.at += delta if delta is not None else dt.timedelta(**parts)
        return self.at


_lock = threading.Lock()
_clock: Clock = Clock()
_zone = ZoneInfo(DEFAULT_TIMEZONE)


def now() -> dt.datetime:
    """The current time, aware, in UTC."""
    return _clock.now()


def timestamp() -> float:
    """The current time as seconds since the epoch (for signed cookies)."""
    return now().timestamp()


def use(clock: Clock) -> Clock:
    """Make ``clock`` the process's clock; return the one it replaces."""
    global _clock
    with _lock:
        previous, _clock = _clock, clock
    return previous


@contextmanager
def frozen(at: dt.datetime) -> Iterator[FixedClock]:
    """The time stands at ``at`` inside the block (the clock can be advanced)."""
    fixed = FixedClock(at)
    previous = use(fixed)
    try:
        yield fixed
    finally:
        use(previous)


def configure(timezone: str) -> None:
    """Set the display zone (``GRIDGIS_TIMEZONE``), e.g. ``Asia/Shanghai``.

    Raises:
        GridgisError: The name is not a time zone; the message says what to write.
    """
    global _zone
    try:
        _zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise GridgisError(
            f"GRIDGIS_TIMEZONE={timezone!r} is not a time zone; use an IANA name such as "
            f"{DEFAULT_TIMEZONE}."
        ) from None


def zone_name() -> str:
    """The display zone's IANA name (``Asia/Shanghai``), for pages that show times themselves."""
    return _zone.key


def local(moment: dt.datetime) -> dt.datetime:
    """``moment`` in the display zone (a naive moment is taken as UTC, as stored)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(_zone)


def show(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time as people read it, in the display zone; ``-`` for none."""
    return local(moment).strftime(fmt) if moment is not None else "-"


def require_aware(moment: dt.datetime, what: str = "the time") -> dt.datetime:
    """``moment`` if it has a zone; else InvalidInput saying how to write one."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            f"{what[:1].upper()}{what[1:]} needs a time zone, e.g. 2026-11-29T08:00:00+08:00."
        )
    return moment


def parse_time(value: str | None, name: str = "at") -> dt.datetime | None:
    """An ISO 8601 time with its zone (None for no value); ``name`` is how the user wrote it.

    Raises:
        InvalidInput: Not ISO 8601, or without a zone.
    """
    if not value:
        return None
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            f"{name} must be an ISO 8601 time such as 2026-11-29T08:00:00+08:00, got {value!r}."
        ) from exc
    if at.tzinfo is None:
        raise InvalidInput(f"{name} {value!r} needs a time zone, e.g. {value}+08:00.")
    return at
