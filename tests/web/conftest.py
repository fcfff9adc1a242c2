"""Apps on real PostGIS: a committed sample community, and an empty database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session

from web import create_app

from sample_community import build_sample_community


@pytest.fixture(scope="session")
def sample_database_url(pg_server: tuple[URL, Engine], template_database: str) -> Iterator[str]:
    """A migrated database holding the committed sample community, shared read-only.

    The app opens its own connections, so it cannot see a test's rolled-back
    ``db_session``; the web tests only read, so one committed copy serves them all.
    """
    server, admin = pg_server
    name = f"gridgis_test_{uuid.uuid4().hex[:10]}_web"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with Session(engine) as session, session.begin():
        build_sample_community(session)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def make_app(database_url: str, **config: object) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, **config})
    yield app
    app.extensions["gridgis"].engine.dispose()


@pytest.fixture
def app(sample_database_url: str) -> Iterator[Flask]:
    yield from make_app(sample_database_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def empty_client(scratch_database_url: str) -> Iterator[FlaskClient]:
    """A client of an app on a migrated database with no community."""
    for app in make_app(scratch_database_url):
        yield app.test_client()
