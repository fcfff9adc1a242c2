"""Reads on a hot standby (GRIDGIS_READ_DATABASE_URL), on a primary and standby of their own.

The check of `make replica`: replay paused on the standby, a layout published
on the primary, and a routing call over HTTP, with no hint from the caller,
must answer from the new layout; once replay resumes, reads go back to the
standby. And whatever a request writes (logins, API key bookkeeping, audit
rows, incidents) goes to the primary: the standby's engine sees reads only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gridgis import migrate
from gridgis.geo.layouts import publish_layout
from gridgis.models import Layout
from tests.support.replica import (
    Pair,
    replica_pair,
    server_binaries,
    set_replay,
    wait_replayed,
)
from tests.support.sample_community import COMMUNITY_CODE, GRID_CODES, LAYOUT_DRAFT
from tests.support.web import ACTOR, Accounts, add_accounts, login, make_app
from web import db as web_db

pytestmark = pytest.mark.skipif(
    server_binaries() is None,
    reason="PostgreSQL server binaries (initdb, pg_basebackup) are not installed: "
    "run 'make system'",
)

#: Inside building B04 of 网格三 (layout 2025版); inside 草案网格 once the draft is published.
B04 = {"lon": 114.3047, "lat": 30.5911}
DRAFT_GRID = "DRAFT-1"


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Pair, Accounts]]:
    """A migrated primary with the sample community and accounts, and its standby, replayed."""
    from tests.support.sample_community import build_sample_community

    with replica_pair() as made:
        owner = sa.create_engine(made.owner_url, poolclass=sa.pool.NullPool)
        migrate.upgrade(owner)
        owner.dispose()
        engine = sa.create_engine(made.app_url, poolclass=sa.pool.NullPool)
        with Session(engine) as session, session.begin():
            build_sample_community(session)
        engine.dispose()
        accounts = add_accounts(made.app_url)
        wait_replayed(made)
        yield made, accounts


@pytest.fixture
def app(pair: tuple[Pair, Accounts]) -> Iterator[Flask]:
    made, _ = pair
    for built in make_app(made.app_url, READ_DATABASE_URL=made.read_url):
        yield built
        replica = built.extensions["gridgis"].replica
        assert replica is not None
        replica.engine.dispose()


def router(app: Flask, accounts: Accounts) -> FlaskClient:
    """A client with the routing API key (each call's key bookkeeping is a write)."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {accounts.keys['router']}"
    return client


def read_session_in_recovery(app: Flask) -> bool:
    """Whether a request's read session, opened now, is on the standby."""
    with app.test_request_context():
        return bool(web_db.get_read_session().scalar(sa.text("SELECT pg_is_in_recovery()")))


def routed_grid(client: FlaskClient) -> str:
    answer = client.post("/api/v1/route", json=B04)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return str(answer.get_json()["grid_code"])


def test_a_routed_answer_is_never_older_than_the_last_published_layout(
    app: Flask, pair: tuple[Pair, Accounts]
) -> None:
    made, accounts = pair
    client = router(app, accounts)
    assert read_session_in_recovery(app), "with the standby caught up, reads go to it"
    assert routed_grid(client) == GRID_CODES[2]

    set_replay(made, paused=True)
    try:
        # Published on the primary by someone else (the command line, a planner):
        # the caller sends no hint that anything changed.
        engine = sa.create_engine(made.app_url, poolclass=sa.pool.NullPool)
        with Session(engine) as session, session.begin():
            draft = session.scalars(sa.select(Layout).where(Layout.name == LAYOUT_DRAFT)).one()
            publish_layout(session, draft, actor=ACTOR)
        engine.dispose()

        assert routed_grid(client) == DRAFT_GRID
        assert not read_session_in_recovery(app), "a standby behind is not read from"
        with made.standby.admin().connect() as conn:
            assert conn.scalar(sa.text("SELECT pg_is_wal_replay_paused()"))
    finally:
        set_replay(made, paused=False)

    wait_replayed(made)
    assert read_session_in_recovery(app), "caught up again, reads go back to the standby"
    assert routed_grid(client) == DRAFT_GRID


def statements_on(engine: sa.engine.Engine) -> list[str]:
    """Every statement ``engine`` runs from now on (until the engine is disposed)."""
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    return seen


def test_writes_never_go_to_the_read_engine(app: Flask, pair: tuple[Pair, Accounts]) -> None:
    _, accounts = pair
    replica = app.extensions["gridgis"].replica
    assert replica is not None
    on_replica = statements_on(replica.engine)
    keyed = router(app, accounts)
    dispatcher = login(app.test_client(), accounts.ids["dispatcher1"])
    admin = login(app.test_client(), accounts.ids["admin1"])
    answers = [
        keyed.post("/api/v1/route", json=B04),
        keyed.post(
            "/api/v1/route/batch",
            data="lon,lat\n114.3047,30.5911\n",
            headers={"Content-Type": "text/csv"},
        ),
        dispatcher.get(f"/api/v1/communities/{COMMUNITY_CODE}/grids"),
        dispatcher.get(f"/tiles/grids/13/6697/3364.mvt?community={COMMUNITY_CODE}"),
        dispatcher.get("/api/v1/rates"),
        # The report reads on the standby; its export's audit entry is a write.
        admin.get(f"/reports/monthly?community={COMMUNITY_CODE}&month=2026-11&format=csv"),
        # An incident: routed, stored and audited, all on the primary.
        dispatcher.post(
            "/api/v1/incidents",
            json={"channel": "walk_in", "description": "人行道塌陷", **B04},
        ),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 200, 200, 201], [
        a.get_data(as_text=True)[:200] for a in answers if a.status_code >= 300
    ]
    assert on_replica, "the reads went to the standby"
    writes = [s for s in on_replica if not s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert not writes, writes
    with app.test_request_context():
        assert web_db.get_session().scalar(sa.text("SELECT count(*) FROM incident")) == 1


@pytest.mark.parametrize("seen_before", [False, True], ids=["never-reached", "reached-before"])
def test_an_unreachable_replica_leaves_the_reads_on_the_primary(
    pair: tuple[Pair, Accounts], seen_before: bool
) -> None:
    made, accounts = pair
    gone = made.read_url.replace(f":{made.standby.port}/", ":1/")
    for app in make_app(made.app_url, READ_DATABASE_URL=gone):
        replica = app.extensions["gridgis"].replica
        if seen_before:
            # As if it had served reads before going away: no epoch to look at first.
            replica.replayed = 2**62
        assert routed_grid(router(app, accounts)) in (GRID_CODES[2], DRAFT_GRID)
        assert not read_session_in_recovery(app)


def test_without_a_replica_the_read_session_is_the_requests_own(sample_database_url: str) -> None:
    for app in make_app(sample_database_url, READ_DATABASE_URL=""):
        assert app.extensions["gridgis"].replica is None
        with app.test_request_context():
            assert web_db.get_read_session() is web_db.get_session()
