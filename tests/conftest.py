"""Fixtures that give every test a real PostGIS.

The server is the one DATABASE_URL names or, when it is unset, the
project-local cluster (started here if `make test` has not already). Tests
never touch the database that `make run` serves: a throwaway database
``gridgis_test_<random>`` is created and migrated once per run, and dropped at
the end. ``db_session`` wraps each test in a transaction that is rolled back;
tests that need committed data in a database of their own (command-line runs,
a live server) take ``scratch_database_url``, a fresh copy of a migrated
template.
"""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session

from gridgis import config as gridgis_config
from gridgis import migrate
from gridgis.config import PROJECT_ROOT
from tests.support.leaks import REPORTERS, ROUTING_CITY, SAMPLE, LeakRecorder, demo_staff

# Fixtures defined beside the worlds they build.
pytest_plugins = ["tests.support.routing_city"]

TESTS_DIR = Path(__file__).resolve().parent
DATA_DIR = TESTS_DIR / "data"


@dataclass(frozen=True)
class Server:
    """The PostgreSQL server of the run: the app's role, the owner's, and an admin engine.

    As in production, tests connect as the app's role (neither superuser nor
    owner), and make, migrate and drop their databases as the owner.
    """

    app: URL
    owner: URL
    admin: Engine

    def app_url(self, database: str) -> str:
        return self.app.set(database=database).render_as_string(hide_password=False)

    def owner_url(self, database: str) -> str:
        return self.owner.set(database=database).render_as_string(hide_password=False)


# A developer's shell may export the standby `make replica` printed: the suite's apps
# must read from the throwaway databases they are given, not from that standby (the
# replica tests set it themselves, on a primary and standby of their own).
os.environ.pop("GRIDGIS_READ_DATABASE_URL", None)


def _server_urls() -> tuple[URL, URL]:
    if "DATABASE_URL" not in os.environ:
        # The local cluster: start it if needed (idempotent and quick); it
        # also makes the roles and their passwords on first start.
        subprocess.run(
            [str(PROJECT_ROOT / "scripts" / "pgcluster.sh"), "start"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return (
        make_url(gridgis_config.database_url()),
        make_url(gridgis_config.owner_database_url()),
    )


def _admin_engine(server: URL) -> Engine:
    return sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")


def _create_database(admin: Engine, name: str, template: str | None = None) -> None:
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))


def _drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session", autouse=True)
def no_personal_data_in_logs() -> Iterator[LeakRecorder]:
    """Every log record of the whole run, at DEBUG, is checked for personal data.

    SQLAlchemy's statement logging stays off, as the app keeps it
    (``web.db``): it would log the fixtures' names as they are inserted. A
    leak fails the last test's teardown, listing the records.
    """
    from web.db import quiet_sql_logging

    quiet_sql_logging()
    root = logging.getLogger()
    level = root.level
    recorder = LeakRecorder((*SAMPLE, *ROUTING_CITY, *REPORTERS, *demo_staff()))
    root.setLevel(logging.DEBUG)
    root.addHandler(recorder)
    # One record of our own, so that a run of a few tests that log nothing
    # still proves the recorder is attached.
    logging.getLogger(__name__).debug("personal-data leak recorder attached")
    yield recorder
    root.removeHandler(recorder)
    root.setLevel(level)
    assert recorder.seen, "no log record at all: the recorder is not attached"
    assert not recorder.leaks, "personal data in the log:\n" + "\n".join(recorder.leaks)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    app, owner = _server_urls()
    admin = _admin_engine(owner)
    yield Server(app, owner, admin)
    admin.dispose()


@pytest.fixture(scope="session")
def template_database(pg_server: Server) -> Iterator[str]:
    """A migrated database that is only ever copied, never connected to by tests."""
    name = f"gridgis_test_{uuid.uuid4().hex[:10]}_tpl"
    _create_database(pg_server.admin, name)
    engine = sa.create_engine(pg_server.owner_url(name), poolclass=sa.pool.NullPool)
    try:
        migrate.upgrade(engine)
        engine.dispose()
        yield name
    finally:
        engine.dispose()
        _drop_database(pg_server.admin, name)


@pytest.fixture(scope="session")
def database_from_template(
    pg_server: Server, template_database: str
) -> Iterator[Callable[[str], str]]:
    """Make migrated databases of the run's own (named with a suffix); dropped at the end.

    Each is returned as the app's role sees it.
    """
    made: list[str] = []

    def make(suffix: str = "") -> str:
        name = f"gridgis_test_{uuid.uuid4().hex[:10]}{suffix}"
        _create_database(pg_server.admin, name, template=template_database)
        made.append(name)
        return pg_server.app_url(name)

    yield make
    for name in made:
        _drop_database(pg_server.admin, name)


@pytest.fixture(scope="session")
def run_database(pg_server: Server, template_database: str) -> Iterator[str]:
    """The name of the run's throwaway database, migrated to head."""
    name = template_database.removesuffix("_tpl")
    _create_database(pg_server.admin, name, template=template_database)
    yield name
    _drop_database(pg_server.admin, name)


@pytest.fixture(scope="session")
def database_url(pg_server: Server, run_database: str) -> str:
    """The run's database as the app's role (the role every test works as)."""
    return pg_server.app_url(run_database)


@pytest.fixture(scope="session")
def owner_database_url(pg_server: Server, run_database: str) -> str:
    """The run's database as the schema's owner (for tests of the schema itself)."""
    return pg_server.owner_url(run_database)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = sa.create_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session whose work, commits included, is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture
def scratch_database_url(
    pg_server: Server, template_database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh migrated database of the test's own, as the app's role.

    Also set as DATABASE_URL (and its owner's URL as DATABASE_OWNER_URL), as a
    deployment would set them, for the command line run in the test.
    """
    name = f"gridgis_test_{uuid.uuid4().hex[:10]}"
    _create_database(pg_server.admin, name, template=template_database)
    monkeypatch.setenv("DATABASE_URL", pg_server.app_url(name))
    monkeypatch.setenv("DATABASE_OWNER_URL", pg_server.owner_url(name))
    yield pg_server.app_url(name)
    _drop_database(pg_server.admin, name)
