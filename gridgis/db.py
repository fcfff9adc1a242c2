"""Engines and sessions.

One engine per process (the web app makes it in ``create_app``), one session
per request or command.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from gridgis.config import database_url, normalise_database_url, owner_database_url
from gridgis.errors import DatabaseUnavailable, GridgisError


def make_engine(
    url: str | None = None, *, connect_timeout: int | None = None, **kwargs: object
) -> Engine:
    """An engine on ``url`` (default: DATABASE_URL, or the local cluster).

    ``connect_timeout``: seconds to wait for a connection (libpq's default is
    forever); the read replica's engine sets it so that a standby that has gone
    away costs a request a moment, not a hang, before it reads from the primary.
    """
    url = normalise_database_url(url) if url else database_url()
    kwargs.setdefault("pool_pre_ping", True)
    # JIT compilation never pays off for gridgis's statements (index probes per
    # point), and cost estimates of large batches trigger it: measured at about
    # 1.5 s of LLVM work per 5,000-point routing chunk.
    connect_args: dict[str, object] = {"options": "-c jit=off"}
    if connect_timeout is not None:
        connect_args["connect_timeout"] = connect_timeout
    kwargs.setdefault("connect_args", connect_args)
    return sa.create_engine(url, **kwargs)  # type: ignore[arg-type]


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def check_connection(engine: Engine) -> None:
    """Raise DatabaseUnavailable with a message that says what to do."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        raise DatabaseUnavailable(
            "Cannot reach the database "
            f"({engine.url.render_as_string(hide_password=True)}). "
            "Start it with `make db`, or set DATABASE_URL to a running PostGIS."
        ) from exc


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One unit of work: a session committed on success and rolled back on error.

    The command line runs each command in one (the web app runs each request
    in one, ``web.db``). Domain functions flush and audit their writes inside
    it and never commit themselves, so a write and its audit entry land
    together or not at all.
    """
    with make_sessionmaker(engine)() as session, session.begin():
        yield session


@contextmanager
def engine_scope(url: str | None = None, *, owner: bool = False) -> Iterator[Engine]:
    """An engine for one command: checked on entry, its connections closed on exit.

    ``owner``: connect as the schema's owner (``DATABASE_OWNER_URL``), for migrations.
    """
    engine = make_engine(url or (owner_database_url() if owner else None))
    try:
        check_connection(engine)
        yield engine
    finally:
        engine.dispose()


def check_least_privilege(engine: Engine) -> None:
    """Refuse to serve as a role that could rewrite the schema or the audit log.

    The web app connects as a role that is neither superuser nor owner of the
    tables (DESIGN.md, Security): if it were either, one bug or injection
    could disable the audit log's triggers and rewrite history.

    Raises:
        GridgisError: The role is a superuser, or owns (or may act as the
            owner of) gridgis's tables; the message says what to set.
    """
    with engine.connect() as conn:
        role, superuser, owned = conn.execute(
            sa.text(
                """SELECT current_user, r.rolsuper,
                          (SELECT count(*) FROM pg_tables t
                           WHERE t.schemaname = 'public'
                             AND pg_has_role(current_user, t.tableowner, 'USAGE'))
                   FROM pg_roles r WHERE r.rolname = current_user"""
            )
        ).one()
    if superuser or owned:
        what = "a superuser" if superuser else f"the owner of {owned} table(s)"
        raise GridgisError(
            f"The web app connects to the database as {role!r}, which is {what}: it could "
            "rewrite the audit log. Set DATABASE_URL to a login role that is a member of "
            "gridgis_app only, and DATABASE_OWNER_URL to the owner, for migrations "
            "(docs/security.md, 'The database roles')."
        )
