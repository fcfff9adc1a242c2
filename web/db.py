"""One engine per app, one session per request (flaskr's ``get_db``/``close_db``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Flask, current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from gridgis.config import Settings
from gridgis.db import make_engine, make_sessionmaker
from gridgis.maps.community import TileSpec


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
    _quiet_sql_logging()
    app.extensions["gridgis"] = AppState(settings, engine, make_sessionmaker(engine), tiles)
    app.teardown_appcontext(close_session)


def _quiet_sql_logging() -> None:
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


def close_session(exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
