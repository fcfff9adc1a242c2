"""Rows into a table with COPY in PostgreSQL's binary format, for taking in many incidents.

:func:`gridgis.incidents.intake.take_in_many` stores a batch's incidents,
their reporters and their events with one COPY each. The binary format,
because with the text format the client escaped every value (each
incident's routing snapshot, about 2 KB of JSON, among them) and the server
unescaped it: sending 48,700 incidents took 0.6–0.9 s of the client's CPU as
text, 0.25 s in binary.

The rows hold the values the text format took: the routing snapshot and the
event data as JSON text (sent as jsonb's binary form, version 1 followed by
that text, which the server parses as it parsed the text), the point as hex
EWKB (sent as its bytes). Every other column goes by its type's own binary
form, so what is stored is the same.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, cast

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy.orm import Session


def copy_rows(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """COPY ``rows`` (values in the order of ``columns``) into ``table``, in binary."""
    # The session's own connection: the rows land in its transaction.
    connection = cast(psycopg.Connection[Any], session.connection().connection.driver_connection)
    types = _column_types(connection, table)
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with connection.cursor() as cursor:
        # The cursor's own adapters: the connection's other statements are untouched.
        for oid, type_name in {types[c] for c in columns}:
            if type_name in _TEXT_DUMPERS:
                cursor.adapters.register_dumper(None, _with_oid(_TEXT_DUMPERS[type_name], oid))
        with cursor.copy(statement) as copy:
            copy.set_types([types[c][0] for c in columns])
            for row in rows:
                copy.write_row(row)


def _column_types(connection: psycopg.Connection[Any], table: str) -> dict[str, tuple[int, str]]:
    """Each column of ``table``: its type's oid and name."""
    found = connection.execute(
        "SELECT a.attname, a.atttypid::int, t.typname FROM pg_attribute a "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (table,),
    ).fetchall()
    return {name: (oid, type_name) for name, oid, type_name in found}


class _JsonText(Dumper):
    """JSON already written as text → jsonb's binary form (version 1, then the text)."""

    format = Format.BINARY

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


class _EwkbHex(Dumper):
    """A geometry as hex EWKB → its bytes (PostGIS's binary input)."""

    format = Format.BINARY

    def dump(self, obj: str) -> bytes:
        return bytes.fromhex(obj)


#: The columns whose values come as text of another form than their type's own.
_TEXT_DUMPERS: dict[str, type[Dumper]] = {"jsonb": _JsonText, "geometry": _EwkbHex}


@functools.cache
def _with_oid(dumper: type[Dumper], oid: int) -> type[Dumper]:
    # The dumper for one column type (geometry's oid is the database's own: an extension's).
    return type(dumper.__name__, (dumper,), {"oid": oid})
