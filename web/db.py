"""One engine per app; one session per request, which is the request's unit of work.

Like pyramid_tm in warehouse, the request's session commits once, after the
view has returned, and rolls back when the view raised: views never commit,
and a write and its audit entry land together or not at all. An error that
says ``keeps_writes`` (a failed login: its count and audit entry must stick)
commits what was written before it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, Response, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from gridgis.config import Settings
from gridgis.db import make_engine, make_sessionmaker
from gridgis.maps.offline import TileSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AppState:
    """What the app holds for its lifetime, in ``app.extensions["gridgis"]``."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    tiles: Sequence[TileSpec]


def init_app(app: Flask, settings: Settings, *, tiles: Sequence[TileSpec]) -> None:
    # The engine connects lazily: the app starts even while the database is
    # down, and requests then get a 503 that says so. hide_parameters: an error
    # logged with its statement must not carry the values (names, phones).
    engine = make_engine(settings.database_url, hide_parameters=True)
    quiet_sql_logging()
    app.extensions["gridgis"] = AppState(settings, engine, make_sessionmaker(engine), tiles)
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
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
