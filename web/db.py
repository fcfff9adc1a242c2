"""One engine per app; one session per request, which is the request's unit of work.

Like pyramid_tm in warehouse, the request's session commits once, after the
view has returned, and rolls back when the view raised: views never commit,
and a write and its audit entry land together or not at all. An error that
says ``keeps_writes`` (a failed login: its count and audit entry must stick)
commits what was written before it.

Reads of routing data, layers, tiles and reports go through
:func:`get_read_session`: a hot standby's session when
``GRIDGIS_READ_DATABASE_URL`` is set, else the request's session. The
standby serves a request only once it has replayed the routing data the
primary has (the routing epoch, bumped by every change to a layout, grid,
building ...); a standby that is behind gets ``GRIDGIS_REPLICA_WAIT_MS`` to
catch up, then the request reads from the primary. So a routed answer is
never older than the last published layout, with no hint from the caller.
Everything else (logins, sessions, API key bookkeeping, audit rows, every
write) stays on the request's session, on the primary.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, Response, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from gridgis.config import Settings
from gridgis.db import make_engine, make_sessionmaker
from gridgis.maps.offline import TileSpec
from gridgis.routing.cache import current_epoch

logger = logging.getLogger(__name__)

#: Seconds between two looks at a standby that is catching up.
REPLICA_POLL_S = 0.01
#: Seconds the app reads from the primary alone after the standby could not be reached.
REPLICA_RETRY_S = 5.0
#: Seconds to wait for a connection to the standby before reading from the primary.
REPLICA_CONNECT_TIMEOUT_S = 2


@dataclass
class Replica:
    """The read replica's sessions and what the app's threads have learnt about it."""

    engine: Engine
    sessions: sessionmaker[Session]
    #: Longest wait for the standby to catch up with the primary's routing epoch.
    wait_s: float
    #: The primary's epoch a request last gave up waiting for: while replay stays
    #: stuck behind it (paused, or a long conflict), later requests look once and
    #: read from the primary at once instead of each waiting again.
    gave_up_on: int | None = None
    #: time.monotonic() until which the standby is left alone after a failed connection.
    down_until: float = 0.0
    #: The highest routing epoch seen replayed on the standby. Replay only moves
    #: forward, so a request whose primary epoch is no higher needs no look at the
    #: standby's: one round trip saved per request (GRIDGIS_READ_DATABASE_URL
    #: names one standby; behind a balancer over several this would not hold).
    replayed: int = 0


@dataclass(frozen=True)
class AppState:
    """What the app holds for its lifetime, in ``app.extensions["gridgis"]``."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    tiles: Sequence[TileSpec]
    #: The hot standby serving reads (GRIDGIS_READ_DATABASE_URL), or None.
    replica: Replica | None = None


def init_app(app: Flask, settings: Settings, *, tiles: Sequence[TileSpec]) -> None:
    # The engine connects lazily: the app starts even while the database is
    # down, and requests then get a 503 that says so. hide_parameters: an error
    # logged with its statement must not carry the values (names, phones).
    engine = make_engine(settings.database_url, hide_parameters=True)
    quiet_sql_logging()
    replica = None
    if settings.read_database_url:
        # Round trips are the standby's cost per request, so it saves three.
        # AUTOCOMMIT: no BEGIN and ROLLBACK around the reads (each statement
        # has its own snapshot, as under READ COMMITTED anyway; nothing here
        # writes). No pre-ping: a pooled connection the standby dropped fails
        # one request (503) and empties the pool; a standby that is down fails
        # to connect inside _fresh_replica_session, which reads from the primary.
        read_engine = make_engine(
            settings.read_database_url,
            hide_parameters=True,
            connect_timeout=REPLICA_CONNECT_TIMEOUT_S,
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=False,
        )
        replica = Replica(
            read_engine, make_sessionmaker(read_engine), settings.replica_wait_ms / 1000
        )
    app.extensions["gridgis"] = AppState(
        settings, engine, make_sessionmaker(engine), tiles, replica
    )
    app.after_request(commit_request)
    app.teardown_appcontext(close_session)


def quiet_sql_logging() -> None:
    """Keep SQLAlchemy's statement and row logging off, even under a DEBUG root logger.

    At INFO it logs every statement, at DEBUG every result row: staff names and
    phones would end up in the log. A deployment that sets these loggers'
    levels itself keeps its choice.
    """
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "sqlalchemy.orm"):
        named = logging.getLogger(name)
        if named.level == logging.NOTSET:
            named.setLevel(logging.WARNING)


def state() -> AppState:
    return current_app.extensions["gridgis"]  # type: ignore[no-any-return]


def get_session() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = state().sessions()
    return g.db_session  # type: ignore[no-any-return]


def get_read_session() -> Session:
    """The request's session for reads: the standby when it is fresh enough, else the primary's.

    Only for requests that read routing data, layers, tiles or reports: never
    write through it (a hot standby refuses writes, and without one this is
    the request's own session, so a write would work here and fail there).
    """
    if "db_read_session" not in g:
        g.db_read_session = _fresh_replica_session() or get_session()
    return g.db_read_session  # type: ignore[no-any-return]


def _fresh_replica_session() -> Session | None:
    """A standby session that sees at least the primary's routing epoch, or None."""
    replica = state().replica
    if replica is None or time.monotonic() < replica.down_until:
        return None
    # One primary-key read on the primary, far cheaper than the routing it guards.
    wanted = current_epoch(get_session())
    session = replica.sessions()
    try:
        # Connected here, where a standby that is down can still send the
        # request to the primary, rather than in the view, as a 503.
        session.connection()
        if replica.replayed >= wanted:
            return session
        wait = 0.0 if replica.gave_up_on == wanted else replica.wait_s
        seen = _await_epoch(session, wanted, wait)
    except sa.exc.OperationalError:
        session.close()
        replica.down_until = time.monotonic() + REPLICA_RETRY_S
        logger.warning(
            "the read replica cannot be reached; reading from the primary for %.0f s",
            REPLICA_RETRY_S,
        )
        return None
    if seen < wanted:
        session.close()
        if replica.gave_up_on != wanted:
            logger.info(
                "the read replica is behind (epoch %d < %d): reading from the primary", seen, wanted
            )
        replica.gave_up_on = wanted
        return None
    replica.replayed = max(replica.replayed, seen)
    return session


def _await_epoch(session: Session, wanted: int, wait_s: float) -> int:
    """The routing epoch the standby has replayed, polled until ``wanted`` or ``wait_s``.

    Each look is a statement of its own, so under READ COMMITTED it sees what
    has been replayed by then.
    """
    deadline = time.monotonic() + wait_s
    while True:
        seen = current_epoch(session)
        if seen >= wanted or time.monotonic() >= deadline:
            return seen
        time.sleep(REPLICA_POLL_S)


def commit_request(response: Response) -> Response:
    """Commit the request's unit of work (unless an error has ended it already)."""
    session = g.get("db_session")
    if session is not None and not g.get("db_done"):
        # Marked first: if the commit fails, the 500 that follows must not try again.
        g.db_done = True
        session.commit()
    return response


def end_with_error(exc: BaseException) -> None:
    """An error ends the request: roll back, or commit if the error keeps its writes."""
    session = g.get("db_session")
    if session is None or g.get("db_done"):
        return
    g.db_done = True
    if getattr(exc, "keeps_writes", False):
        try:
            session.commit()
            return
        except sa.exc.SQLAlchemyError:
            logger.warning("could not commit before the error response", exc_info=False)
    session.rollback()


def close_session(exc: BaseException | None = None) -> None:
    read = g.pop("db_read_session", None)
    if read is not None and read is not g.get("db_session"):
        read.close()  # the standby's: nothing to commit
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
