"""The outbox: notifications written in the same transaction as the change they announce.

Dispatching, escalating, reopening and closing an incident call
:func:`notify` inside their unit of work, which adds one row per configured
receiver. If the change rolls back, so does the message; once it commits,
``gridgis worker`` delivers it (at least once, with retries; receivers
deduplicate by ``message_id``). A plain outbox table drained with
``FOR UPDATE SKIP LOCKED`` is enough here and needs no other service: the
messages are few (a community's dispatches), and PostgreSQL is already there.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.errors import GridgisError
from gridgis.models import OutboxMessage


@dataclass(frozen=True)
class Receiver:
    """A configured webhook: its name (in the outbox) and where to POST."""

    name: str
    url: str


_receivers: tuple[Receiver, ...] = ()


def parse_receivers(text: str) -> tuple[Receiver, ...]:
    """``GRIDGIS_WEBHOOKS``: ``name=https://host/path`` entries separated by spaces or commas."""
    found: list[Receiver] = []
    for entry in text.replace(",", " ").split():
        name, _, url = entry.partition("=")
        parts = urlsplit(url)
        if not name or parts.scheme not in ("http", "https") or not parts.netloc:
            raise GridgisError(
                f"GRIDGIS_WEBHOOKS entry {entry!r} is not name=URL; write e.g. "
                "'wecom=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...'."
            )
        if any(r.name == name for r in found):
            raise GridgisError(f"GRIDGIS_WEBHOOKS names {name!r} twice.")
        found.append(Receiver(name[:64], url))
    return tuple(found)


def configure(receivers: Sequence[Receiver]) -> None:
    """Set the receivers every new message goes to (``GRIDGIS_WEBHOOKS``)."""
    global _receivers
    _receivers = tuple(receivers)


def receivers() -> tuple[Receiver, ...]:
    return _receivers


def notify(session: Session, topic: str, payload: Mapping[str, Any]) -> list[OutboxMessage]:
    """Add a message about ``topic`` for every receiver (flushed with the caller's change).

    Payloads name incidents by id, code and place, never a resident: a
    webhook may end up in a group chat.
    """
    now = clock.now()
    rows = [
        OutboxMessage(
            message_id=str(uuid.uuid4()),
            destination=receiver.name,
            topic=topic,
            payload=dict(payload),
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
        for receiver in _receivers
    ]
    session.add_all(rows)
    session.flush()
    return rows


def pending(session: Session, *, before: dt.datetime | None = None) -> int:
    """How many messages wait for delivery (for the worker's status and tests)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.delivered_at.is_(None),
                OutboxMessage.failed_at.is_(None),
                OutboxMessage.next_attempt_at <= (before or clock.now()),
            )
        )
        or 0
    )
