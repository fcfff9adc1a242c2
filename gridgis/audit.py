"""The audit log: every write, who made it, when, and key fields before and after.

Entries are appended to ``audit_log`` in the same transaction as the write
they describe, so a write that rolls back leaves no entry and a committed
write always has one. The table is append-only in the database itself (a
trigger of migration 0003 refuses UPDATE, DELETE and TRUNCATE), so nothing
here offers to change or remove an entry.

Secrets never reach the log: fields that name a password, a hash or a key are
replaced by ``"[redacted]"`` whatever the caller passes in.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import enum
import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.errors import InvalidInput
from gridgis.models import AuditEntry
from gridgis.spreadsheets import safe_cell

#: Field names whose values never go into the log, at any depth.
SECRET_FIELDS = frozenset(
    {"password", "password_hash", "new_password", "old_password", "key", "key_hash", "secret"}
)
REDACTED = "[redacted]"
#: Most entries one ``entries`` call returns.
MAX_LIMIT = 10_000
EXPORT_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
EXPORT_COLUMNS = ("id", "at", "actor", "action", "entity", "entity_id", "before", "after", "note")


class Actor(Protocol):
    """Whoever acts: a :class:`gridgis.access.Principal`, or anything that names itself.

    Domain writes take the acting principal as ``actor`` and pass it here, so
    the log names who did it the same way everywhere (``user:alice``,
    ``apikey:hotline``, ``cli:root``).
    """

    @property
    def audit_name(self) -> str: ...


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str | int | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str | None = None,
) -> AuditEntry:
    """Append one entry to the audit log (added and flushed; the caller commits).

    Args:
        session: The session of the write being described.
        actor: Who (a principal); logged by its ``audit_name``: ``user:alice``,
            ``apikey:hotline``, ``cli:root``.
        action: What was done: ``create``, ``disable``, ``set_role``, ``revoke`` ...
        entity: To what kind of thing: ``user``, ``api_key``, ``grid`` ...
        entity_id: Which one (its code, name or id).
        before: Key fields before the write; made JSON-safe, secrets redacted.
        after: Key fields after the write; likewise.
        note: A free-text remark.

    Returns:
        The new entry.
    """
    entry = AuditEntry(
        actor=actor.audit_name,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        before=None if before is None else _safe(before),
        after=None if after is None else _safe(after),
        note=note,
    )
    session.add(entry)
    session.flush()
    return entry


def entries(
    session: Session,
    *,
    limit: int = 100,
    offset: int = 0,
    actor: str | None = None,
    entity: str | None = None,
) -> list[AuditEntry]:
    """Entries newest first, optionally only one actor's or one kind of entity's.

    Raises:
        InvalidInput: ``limit`` is not between 1 and 10,000, or ``offset`` is negative.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"The limit must be between 1 and {MAX_LIMIT} (got {limit}).")
    if offset < 0:
        raise InvalidInput(f"The offset cannot be negative (got {offset}).")
    query = sa.select(AuditEntry)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def export(session: Session, out: Path) -> int:
    """Write the whole audit log, oldest first, to ``out``; return the number of entries.

    The format follows the extension: ``.csv`` (UTF-8 with a BOM, for Excel;
    ``before`` and ``after`` as JSON text) or ``.jsonl``/``.ndjson`` (one JSON
    object per line, exactly as stored).

    Raises:
        InvalidInput: Another extension.
    """
    out = Path(out)
    fmt = EXPORT_FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise InvalidInput(
            f"{out}: cannot tell the format from the extension {out.suffix or '(none)'!r}; "
            "use .csv or .jsonl."
        )
    rows = session.scalars(
        sa.select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000)
    )
    count = 0
    if fmt == "csv":
        with out.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(EXPORT_COLUMNS)
            for entry in rows:
                writer.writerow([_csv_cell(v) for v in _as_dict(entry).values()])
                count += 1
    else:
        with out.open("w", encoding="utf-8") as fh:
            for entry in rows:
                fh.write(json.dumps(_as_dict(entry), ensure_ascii=False) + "\n")
                count += 1
    return count


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    """One entry as JSON-safe fields (``at`` in ISO 8601), for listings and APIs."""
    return _as_dict(entry)


def _as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat() if entry.at else None,
        "actor": entry.actor,
        "action": entry.action,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
        "note": entry.note,
    }


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    # Actors, ids and notes can come from users: no cell may run as a formula.
    # The .jsonl export keeps values exactly.
    return safe_cell(value)


def _safe(value: Any) -> Any:
    """A JSON-safe copy of ``value`` with secret fields redacted."""
    if isinstance(value, Mapping):
        return {
            str(k): (REDACTED if str(k).lower() in SECRET_FIELDS else _safe(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        items = [_safe(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # JSON has no NaN or infinity.
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return _safe(value.value)
    if isinstance(value, decimal.Decimal | uuid.UUID | Path):
        return str(value)
    return str(value)
