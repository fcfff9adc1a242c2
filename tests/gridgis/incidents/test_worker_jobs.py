"""The worker's periodic jobs (``Schedule.jobs``): run on the deadline check's schedule, isolated.

The command line hands planning's cut-over rerouting to the loop this way
(incidents may not import planning); what rerouting does is
``tests/gridgis/planning/test_cutover.py``'s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gridgis.incidents import delivery, worker
from gridgis.incidents.worker import Schedule, Tally, run


@pytest.fixture
def engine(scratch_database_url: str) -> Iterator[Engine]:
    made = sa.create_engine(scratch_database_url)
    yield made
    made.dispose()


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the loop's passes (one outbox look each); the third pass stops the worker."""
    seen: list[int] = []

    def deliver_due(
        _engine: Engine, _policy: delivery.Policy, stop: threading.Event | None = None
    ) -> Tally:
        seen.append(1)
        if len(seen) == 3 and stop is not None:
            stop.set()
        return Tally()

    monkeypatch.setattr(worker, "deliver_due", deliver_due)
    yield seen


def test_jobs_run_with_the_deadline_check_not_every_pass(engine: Engine, passes: list[int]) -> None:
    calls: list[Engine] = []
    schedule = Schedule(poll=0.01, deadline_check=3600.0, jobs=(lambda e, _s: calls.append(e),))

    run(engine, schedule, threading.Event())

    assert len(passes) == 3 and calls == [engine]


def test_a_failing_job_is_logged_and_holds_up_nothing_else(
    engine: Engine, passes: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    def broken(_engine: Engine, _stop: threading.Event) -> None:
        raise RuntimeError("a bug in another package")

    schedule = Schedule(
        poll=0.01, deadline_check=3600.0, jobs=(broken, lambda _e, _s: ran.append("next"))
    )
    with caplog.at_level(logging.ERROR, logger="gridgis.incidents.worker"):
        run(engine, schedule, threading.Event())

    assert ran == ["next"] and len(passes) == 3
    assert "the periodic job" in caplog.text and "a bug in another package" in caplog.text


def test_once_a_failing_job_fails_the_pass(engine: Engine) -> None:
    def broken(_engine: Engine, _stop: threading.Event) -> None:
        raise RuntimeError("a bug in another package")

    with pytest.raises(RuntimeError, match="a bug"):
        run(engine, Schedule(jobs=(broken,)), threading.Event(), once=True)
