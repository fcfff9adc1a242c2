"""Apps on real PostGIS: a committed sample community with an account per role.

Each test's app works on one connection inside a transaction that is rolled
back when the test ends: whatever a test writes through the app (a login's
audit entry, a locked account, a changed password) or through ``db``
(``fresh_user``, a disabled account) is gone for the next test, so tests
cannot leak into each other. Web clients are logged in by writing the signed
session directly (no scrypt per test); ``tests/web/test_access.py`` logs in
through the form.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.support.sample_community import build_sample_community
from tests.support.web import (
    USERS,
    Accounts,
    ClientFor,
    add_accounts,
    add_user,
    login,
    make_app,
    rolled_back_app,
)
from web.i18n import compile_catalogs


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogs() -> None:
    """Compile the translation catalogs (.po → .mo), as `make translations` does.

    The app only reads .mo files and they are not committed, so a bare
    ``pytest`` must build them like the setup would, or every page would be
    English. Like make, only a missing or older .mo is rebuilt.
    """
    compile_catalogs()


@pytest.fixture(scope="session")
def sample_database(database_from_template: Callable[[str], str]) -> tuple[str, Accounts]:
    """A migrated database holding the committed sample community and the test accounts.

    Committed once for the whole run; every test then works in a transaction
    of its own on top of it (:func:`app`).
    """
    url = database_from_template("_web")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
    engine.dispose()
    return url, add_accounts(url)


@pytest.fixture(scope="session")
def sample_database_url(sample_database: tuple[str, Accounts]) -> str:
    return sample_database[0]


@pytest.fixture(scope="session")
def sample_accounts(sample_database: tuple[str, Accounts]) -> Accounts:
    return sample_database[1]


@pytest.fixture
def app(sample_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app on the sample database, every request on one rolled-back connection.

    Requests still commit their unit of work, but each commit only releases a
    savepoint of the test's transaction, which is rolled back at the end.
    Photos go to the test's own folder, never under var/.
    """
    with rolled_back_app(sample_database_url, MEDIA_DIR=str(tmp_path / "media")) as made:
        yield made


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session on the test app's connection: sees what requests wrote, and is rolled back."""
    session = app.extensions["gridgis"].sessions()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def client_for(app: Flask, sample_accounts: Accounts) -> ClientFor:
    """``client_for("viewer")``: a client logged in with that role's account (or username)."""

    def make(who: str) -> FlaskClient:
        username = USERS.get(who, who)
        return login(app.test_client(), sample_accounts.ids[username])

    return make


@pytest.fixture
def client(client_for: ClientFor) -> FlaskClient:
    """A dispatcher: sees maps, layers and routing, with personal data masked."""
    return client_for("dispatcher")


@pytest.fixture
def anon_client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def key_client(app: Flask, sample_accounts: Accounts) -> Callable[[str], FlaskClient]:
    """``key_client("router")``: a client that sends that API key with every request."""

    def make(name: str) -> FlaskClient:
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {sample_accounts.keys[name]}"
        return client

    return make


@pytest.fixture
def fresh_user(db: Session) -> Callable[..., tuple[str, int]]:
    """Make an account of a test's own (to lock, to change its password ...), rolled back."""

    def make(role: str = "viewer", *, staff_code: str | None = None) -> tuple[str, int]:
        username = f"u{uuid.uuid4().hex[:10]}"
        user_id = add_user(db, username, role, staff_code=staff_code)
        db.commit()  # a savepoint of the test's transaction: the app's requests see it
        return username, user_id

    return make


@pytest.fixture
def empty_client(scratch_database_url: str) -> Iterator[FlaskClient]:
    """A viewer's client of an app on a migrated database with no community."""
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        user_id = add_user(session, "viewer1", "viewer")
    engine.dispose()
    for app in make_app(scratch_database_url):
        yield login(app.test_client(), user_id)
