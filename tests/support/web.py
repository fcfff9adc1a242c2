"""Accounts and logged-in clients for the web tests (imported by conftest.py and tests).

A module of its own name: every ``conftest.py`` is a module named "conftest".
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from gridgis.access import accounts, apikeys, sessions
from gridgis.models import User
from tests.support.actors import named
from web import create_app

#: Every test account's password (the policy wants 12+ characters, not common or leaked).
PASSWORD = "Grid-test-passw0rd"
ACTOR = named("cli:tests")
#: One account per role; the grid staff account is 张三 (S1), grid worker of 网格一.
USERS = {
    "admin": "admin1",
    "planner": "planner1",
    "dispatcher": "dispatcher1",
    "grid_staff": "zhangsan",
    "viewer": "viewer1",
}
GRID_STAFF_CODE = "S1"
#: The building head of B01 (钱七): a grid staff account whose scope is one building.
BUILDING_HEAD = ("qianqi", "S5")
#: API keys: name -> scopes.
KEYS = {"router": ["route:read"], "reader": ["layers:read"]}
#: The sample's personal data: none of it may be in a log, nor unmasked where it should not be.
STAFF_NAMES = ("张三", "李四光", "王五", "赵六", "钱七", "孙八")
STAFF_PHONES = (
    "13812341234",
    "13900005678",
    "13700001111",
    "13600002222",
    "13500003333",
    "13400004444",
)
#: The tests' cookie key: fixed (a failing test can be replayed), and random enough for
#: the rule every key must pass (web.security.keys.check_secret_key), as a deployment's.
TEST_SECRET_KEY = "tests-only-9c1f5be07a4d4e21b86f3d0a57c2e8f4a1b3c6d9e2f5a8b0c7d4e1f2a3b5c6d8"
#: Test configuration of every app: fixed secret, no rate limits (test_limits turns them on).
TEST_CONFIG = {"TESTING": True, "SECRET_KEY": TEST_SECRET_KEY, "RATELIMIT_ENABLED": False}


#: ``client_for("viewer")``: a client logged in with that role's account.
ClientFor = Callable[[str], FlaskClient]


@dataclass(frozen=True)
class Accounts:
    """What the sample database holds besides the community: account ids and API keys."""

    ids: dict[str, int]
    keys: dict[str, str]


def add_user(session: Session, username: str, role: str, *, staff_code: str | None = None) -> int:
    user = accounts.create_user(
        session, username, PASSWORD, role, staff_code=staff_code, actor=ACTOR
    )
    return user.id


def add_accounts(url: str) -> Accounts:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    ids: dict[str, int] = {}
    keys: dict[str, str] = {}
    with Session(engine) as session, session.begin():
        for role, username in USERS.items():
            staff = GRID_STAFF_CODE if role == "grid_staff" else None
            ids[username] = add_user(session, username, role, staff_code=staff)
        ids[BUILDING_HEAD[0]] = add_user(
            session, BUILDING_HEAD[0], "grid_staff", staff_code=BUILDING_HEAD[1]
        )
        for name, scopes in KEYS.items():
            _, keys[name] = apikeys.create_key(session, name, scopes, actor=ACTOR)
    engine.dispose()
    return Accounts(ids=ids, keys=keys)


def make_app(database_url: str, **config: object) -> Iterator[Flask]:
    app = create_app({**TEST_CONFIG, "DATABASE_URL": database_url, **config})
    yield app
    app.extensions["gridgis"].engine.dispose()


@contextmanager
def rolled_back_app(database_url: str, **config: object) -> Iterator[Flask]:
    """An app whose every session works on one connection, rolled back at the end.

    Requests still commit their unit of work; each commit only releases a
    savepoint of the connection's transaction, and that transaction is rolled
    back when the block ends, so nothing a test writes outlives it.
    """
    for app in make_app(database_url, **config):
        state = app.extensions["gridgis"]
        with state.engine.connect() as connection:
            outer = connection.begin()
            sessions = sessionmaker(
                bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
            app.extensions["gridgis"] = dataclasses.replace(state, sessions=sessions)
            try:
                yield app
            finally:
                outer.rollback()


def login(client: FlaskClient, user_id: int) -> FlaskClient:
    """Make ``client`` a browser logged in as ``user_id`` (as a successful login would).

    The session is started on the server, through the app's own sessions (a
    rolled-back app's connection, so it is gone after the test), and its token
    put in the cookie: no password check per test. An id with no account (or
    a database that is down) gets a token with no session. Its writes send the
    session's CSRF token in ``X-CSRF-Token``, as a page script would.
    """
    token = uuid.uuid4().hex
    try:
        with client.application.extensions["gridgis"].sessions() as db:
            user = db.get(User, user_id)
            if user is not None:
                token = sessions.start_session(db, user)
            db.commit()  # a savepoint of the test's transaction, for a rolled-back app
    except sa.exc.OperationalError:
        pass  # the database is down: the app will say so
    csrf = uuid.uuid4().hex
    with client.session_transaction() as session:
        session.permanent = True
        session.update(sid=token, uid=user_id, csrf_token=csrf)
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf
    return client
