"""Delivering the outbox: claim a due message, send it, mark what the receiver answered.

Why a plain table and not procrastinate or pgqueuer: both are maintained
PostgreSQL job queues and both could enqueue in the caller's transaction, but
what we deliver is narrower than a job — one HTTP POST per message — and what a
person needs to see is the message's own delivery state (attempts, the next
try, the last error, given up or delivered) in the row the domain wrote.
A queue would add a dependency with its own schema, migrations and worker
model for that; ``FOR UPDATE SKIP LOCKED`` on the ``outbox`` table gives the
same guarantees in a page of code (see also :mod:`gridgis.incidents.outbox`).

How one message travels (each step its own short transaction):

1. :func:`claim`: the oldest due message is locked with ``FOR UPDATE SKIP
   LOCKED`` (a second worker skips it and takes the next), its attempt counted
   and its ``next_attempt_at`` pushed one lease ahead, and committed. For the
   lease no other worker takes it, though nothing stays locked while the HTTP
   request runs.
2. The worker POSTs it (:mod:`gridgis.incidents.webhooks`), outside any
   transaction.
3. :func:`mark_delivered` after a 2xx, else :func:`mark_failed`: the next try
   after an exponential back-off, or, past the last attempt, ``failed_at``
   with the last error, kept for a person (``gridgis outbox list``,
   ``gridgis outbox retry``).

A worker killed at any moment loses nothing: a message is marked delivered
only after the receiver's 2xx, and one claimed by a dead worker comes due
again when its lease ends. It may send a message twice — killed after the
receiver answered but before the mark — always with the same ``message_id``,
which receivers deduplicate by: at least once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.audit import Actor, record
from gridgis.errors import InvalidInput, NotFound
from gridgis.incidents.webhooks import Message
from gridgis.models import OutboxMessage


@dataclass(frozen=True)
class Policy:
    """How hard the worker tries: timeouts, retries and back-off.

    With the defaults a message is tried 10 times over about three hours:
    at once, then after 30 s, 1, 2, 4, 8, 16 and 32 minutes, 1 hour and 1 hour.
    """

    #: Seconds to wait for a receiver to accept the connection, and for each read.
    timeout: float = 10.0
    max_attempts: int = 10
    #: The wait after the first failure, in seconds; it doubles after each.
    first_retry: float = 30.0
    #: The longest wait between two attempts, in seconds.
    max_retry: float = 3600.0

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.max_attempts < 1 or not 0 < self.first_retry <= self.max_retry:
            raise InvalidInput(
                "The worker needs a positive timeout, at least one attempt, and a first "
                "retry no longer than the longest."
            )

    @property
    def lease(self) -> dt.timedelta:
        """How long a claimed message stays the claiming worker's.

        Longer than one request can take (a connection, then reads that each
        may wait ``timeout``), so a live worker is never overtaken; a dead
        worker's message comes due again after it.
        """
        return dt.timedelta(seconds=3 * self.timeout + 5)

    def retry_after(self, attempts: int) -> dt.timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        seconds = self.first_retry * 2 ** min(max(attempts - 1, 0), 30)
        return dt.timedelta(seconds=min(seconds, self.max_retry))


def _pending() -> sa.ColumnElement[bool]:
    return sa.and_(OutboxMessage.delivered_at.is_(None), OutboxMessage.failed_at.is_(None))


def claim(
    session: Session, destinations: Collection[str], *, policy: Policy, now: dt.datetime
) -> Message | None:
    """Take the oldest due message for one of ``destinations`` (flushed; commit at once).

    Returns:
        A snapshot of the message, its attempt counted, or None when nothing is due.
    """
    if not destinations:
        return None
    row = session.scalars(
        sa.select(OutboxMessage)
        .where(
            _pending(),
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.destination.in_(sorted(destinations)),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    row.attempts += 1
    row.next_attempt_at = now + policy.lease
    session.flush()
    return Message(
        id=row.id,
        message_id=row.message_id,
        destination=row.destination,
        topic=row.topic,
        payload=dict(row.payload),
        created_at=row.created_at,
        attempt=row.attempts,
    )


def mark_delivered(session: Session, message: Message, *, now: dt.datetime) -> None:
    """The receiver answered 2xx: delivered (whatever else happened to the row meanwhile)."""
    session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.delivered_at.is_(None))
        .values(delivered_at=now, failed_at=None, last_error=None)
    )


def mark_failed(
    session: Session, message: Message, error: str, *, policy: Policy, now: dt.datetime
) -> dt.datetime | None:
    """The attempt failed: schedule the next, or give up after the last.

    Only the claim that made this attempt may change the row (the attempt
    count is its fence): a worker that overran its lease does not overwrite
    what a later claim wrote.

    Returns:
        When the next attempt is due, or None when the message was given up on.
    """
    given_up = message.attempt >= policy.max_attempts
    upcoming = None if given_up else now + policy.retry_after(message.attempt)
    values: dict[str, object] = {"last_error": error[:500]}
    if upcoming is None:
        values["failed_at"] = now
    else:
        values["next_attempt_at"] = upcoming
    session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.attempts == message.attempt,
            _pending(),
        )
        .values(**values)
    )
    return upcoming


@dataclass(frozen=True)
class Status:
    """The outbox at a glance, for ``gridgis outbox list`` and ``gridgis worker --status``."""

    #: Not yet delivered nor given up on.
    pending: int
    #: Of those, due now.
    due: int
    #: Of those, tried before and waiting to be tried again.
    retrying: int
    #: Given up on after the last attempt (see ``last_error``).
    failed: int
    delivered: int
    #: Pending for a receiver no longer configured: they wait until it is again.
    unrouted: int
    oldest_pending: dt.datetime | None


def status(session: Session, destinations: Collection[str], *, now: dt.datetime) -> Status:
    """Counts of the outbox by state, in one query."""
    pending = _pending()
    count = sa.func.count()
    row = session.execute(
        sa.select(
            count.filter(pending),
            count.filter(pending, OutboxMessage.next_attempt_at <= now),
            count.filter(pending, OutboxMessage.attempts > 0),
            count.filter(OutboxMessage.failed_at.is_not(None)),
            count.filter(OutboxMessage.delivered_at.is_not(None)),
            count.filter(pending, OutboxMessage.destination.not_in(sorted(destinations))),
            sa.func.min(OutboxMessage.created_at).filter(pending),
        )
    ).one()
    pending_n, due, retrying, failed, delivered, unrouted = (int(n or 0) for n in row[:6])
    return Status(pending_n, due, retrying, failed, delivered, unrouted, oldest_pending=row[6])


def listed(session: Session, *, failed: bool, limit: int = 50) -> list[OutboxMessage]:
    """The failed messages, newest first, or the pending ones, next due first."""
    query = sa.select(OutboxMessage)
    if failed:
        query = query.where(OutboxMessage.failed_at.is_not(None)).order_by(
            OutboxMessage.failed_at.desc(), OutboxMessage.id.desc()
        )
    else:
        query = query.where(_pending()).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
    return list(session.scalars(query.limit(limit)))


def retry_failed(
    session: Session, message_ids: Sequence[str] | None = None, *, actor: Actor
) -> int:
    """Put failed messages back in line, their attempts counted afresh (audited).

    Args:
        session: The unit of work.
        message_ids: Which (their ``message_id``); None: every failed message.
        actor: Who asks (the audit log names them).

    Raises:
        NotFound: A message id that names no failed message.
    """
    query = sa.select(OutboxMessage.message_id).where(OutboxMessage.failed_at.is_not(None))
    if message_ids is not None:
        query = query.where(OutboxMessage.message_id.in_(list(message_ids)))
    found = list(session.scalars(query))
    missing = sorted(set(message_ids or ()) - set(found))
    if missing:
        raise NotFound(
            f"No failed message {', '.join(missing)}; `gridgis outbox list --failed` lists them."
        )
    if not found:
        return 0
    session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.message_id.in_(found), OutboxMessage.failed_at.is_not(None))
        .values(failed_at=None, attempts=0, next_attempt_at=clock.now())
    )
    record(
        session,
        actor,
        "retry",
        "outbox",
        None if message_ids is None else ",".join(found)[:200],
        after={"messages": len(found)},
    )
    return len(found)
