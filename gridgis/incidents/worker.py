"""``gridgis worker``'s loop: deliver the outbox, and run the deadline job every minute.

One process, one thread, short transactions: the deadline job (督办,
:mod:`gridgis.incidents.escalation`) in batches of one unit of work each, then
every due message claimed, sent and marked (:mod:`gridgis.incidents.delivery`),
then a short wait (``poll``) for new messages. Any number of workers may run
against one database: claims and escalations skip what another holds.
Other packages' periodic jobs (``Schedule.jobs``: the command line passes
planning's cut-over rerouting, which this package may not import) run after
the deadline job, on its schedule.

Stopping (SIGTERM, Ctrl-C) sets ``stop``: the worker finishes the message in
hand and leaves. Killing it at any moment is safe too (at least once; see
:mod:`gridgis.incidents.delivery`). A database that goes away is waited for,
not fatal. The log names messages by id, topic and receiver, never their
payload or the receiver's URL.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from gridgis import clock
from gridgis.db import unit_of_work
from gridgis.errors import DatabaseUnavailable
from gridgis.incidents import delivery, escalation, outbox, photos, webhooks

logger = logging.getLogger(__name__)

#: The longest wait after the database failed, in seconds.
MAX_DB_WAIT = 60.0

#: A periodic job: given the engine and the stop flag, it runs its own units of work.
Job = Callable[[Engine, threading.Event], object]


@dataclass(frozen=True)
class Schedule:
    """How often the worker looks for work."""

    #: Seconds between looks at the outbox when nothing is due.
    poll: float = 2.0
    #: Seconds between runs of the deadline job (``GRIDGIS_DEADLINE_CHECK_SECONDS``).
    deadline_check: float = 60.0
    policy: delivery.Policy = field(default_factory=delivery.Policy)
    #: The media folder whose orphaned photo files are removed (None: not looked at).
    media_dir: Path | None = None
    #: Seconds between looks for orphaned photo files.
    housekeeping: float = 3600.0
    #: More jobs run after the deadline job, on its schedule.
    jobs: tuple[Job, ...] = ()


@dataclass
class Tally:
    """What one pass over the outbox did."""

    delivered: int = 0
    failed_attempts: int = 0
    given_up: int = 0


def deliver_due(
    engine: Engine, policy: delivery.Policy, stop: threading.Event | None = None
) -> Tally:
    """Send every message due now, one claim, request and mark at a time.

    A receiver that fails is left alone for the rest of the pass, so one that
    hangs delays the others by one timeout per pass, not one per message.
    """
    receivers = {r.name: r for r in outbox.receivers()}
    skipped: set[str] = set()
    tally = Tally()
    while stop is None or not stop.is_set():
        with unit_of_work(engine) as session:
            message = delivery.claim(
                session, set(receivers) - skipped, policy=policy, now=clock.now()
            )
        if message is None:
            return tally
        try:
            outcome = webhooks.post(receivers[message.destination], message, timeout=policy.timeout)
        except Exception as exc:
            # A fault in shaping one message must not stop the others: it is
            # retried like a refusal, and kept as failed for a person to see.
            logger.exception("could not send message %s", message.message_id)
            outcome = webhooks.Outcome(False, f"could not send: {type(exc).__name__}")
        upcoming: dt.datetime | None = None
        with unit_of_work(engine) as session:
            if outcome.delivered:
                delivery.mark_delivered(session, message, now=clock.now())
            else:
                upcoming = delivery.mark_failed(
                    session, message, outcome.detail, policy=policy, now=clock.now()
                )
        if outcome.delivered:
            tally.delivered += 1
            logger.info(
                "delivered message %s (%s) to %s, attempt %d",
                message.message_id,
                message.topic,
                message.destination,
                message.attempt,
            )
            continue
        skipped.add(message.destination)
        tally.failed_attempts += 1
        if upcoming is None:
            tally.given_up += 1
            logger.error(
                "gave up on message %s (%s) to %s after %d attempts: %s",
                message.message_id,
                message.topic,
                message.destination,
                message.attempt,
                outcome.detail,
            )
        else:
            logger.warning(
                "attempt %d of message %s (%s) to %s failed: %s; next at %s",
                message.attempt,
                message.message_id,
                message.topic,
                message.destination,
                outcome.detail,
                upcoming.isoformat(),
            )
    return tally


def escalate_all(engine: Engine, stop: threading.Event | None = None) -> int:
    """Run the deadline job to the end, one unit of work per batch; the breaches escalated."""
    total = 0
    while stop is None or not stop.is_set():
        with unit_of_work(engine) as session:
            done = escalation.escalate_overdue(session)
        for breach in done:
            logger.info(
                "escalated incident %d: its %s deadline (%s) passed undone",
                breach.incident_id,
                breach.deadline,
                breach.due_at.isoformat(),
            )
        total += len(done)
        if not done:
            break
    if total:
        logger.info("escalated %d overdue deadline(s) to the community office", total)
    return total


def _run_jobs(engine: Engine, jobs: tuple[Job, ...], stop: threading.Event, *, once: bool) -> None:
    """Run each periodic job; a job's bug is logged and leaves the others (and the outbox) be."""
    for job in jobs:
        try:
            job(engine, stop)
        except (sa_exc.OperationalError, sa_exc.InterfaceError, DatabaseUnavailable):
            raise  # the database is gone: the loop waits for it
        except Exception:
            if once:
                raise
            # Notifications and escalations must not wait on another package's fault;
            # the job is tried again at the next deadline check.
            logger.exception("the periodic job %s failed", getattr(job, "__qualname__", job))


def run(engine: Engine, schedule: Schedule, stop: threading.Event, *, once: bool = False) -> None:
    """Work until ``stop`` is set (or one pass, with ``once``)."""
    if not outbox.receivers():
        logger.warning("GRIDGIS_WEBHOOKS names no receiver: no notification is written or sent")
    next_check: dt.datetime | None = None
    next_sweep: dt.datetime | None = None
    failures = 0
    while not stop.is_set():
        try:
            now = clock.now()
            if next_check is None or now >= next_check:
                escalate_all(engine, stop)
                _run_jobs(engine, schedule.jobs, stop, once=once)
                next_check = now + dt.timedelta(seconds=schedule.deadline_check)
            if schedule.media_dir is not None and (next_sweep is None or now >= next_sweep):
                # Files a crash left between their write and their commit (photos.py).
                with unit_of_work(engine) as session:
                    photos.remove_orphans(session, schedule.media_dir)
                next_sweep = now + dt.timedelta(seconds=schedule.housekeeping)
            deliver_due(engine, schedule.policy, stop)
            failures = 0
        except (sa_exc.OperationalError, sa_exc.InterfaceError, DatabaseUnavailable) as exc:
            if once:
                raise
            failures += 1
            wait = min(schedule.poll * 2**failures, MAX_DB_WAIT)
            # The exception's class only: its text may quote a statement's values.
            logger.error("the database failed (%s); trying again in %g s", type(exc).__name__, wait)
            stop.wait(wait)
            continue
        except Exception:
            if once:
                raise
            # Anything else is a bug: logged with its traceback (the engine hides
            # statements' values), and the worker keeps going rather than leave
            # every notification and escalation waiting.
            failures += 1
            logger.exception("the worker's pass failed; trying again")
            stop.wait(min(schedule.poll * 2**failures, MAX_DB_WAIT))
            continue
        if once:
            return
        stop.wait(schedule.poll)
