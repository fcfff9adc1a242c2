"""Web tests that write cannot leak into each other: their app's transaction is rolled back."""

from __future__ import annotations

import sqlalchemy as sa

from gridgis.models import AuditEntry, User
from tests.support.web import PASSWORD, add_user, rolled_back_app


def count(url: str, model: type, **where: str) -> int:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(sa.func.count()).select_from(model).filter_by(**where)
        ).scalar_one()
    engine.dispose()
    return int(found)


def test_what_a_test_writes_through_the_app_is_gone_afterwards(sample_database_url: str) -> None:
    with rolled_back_app(sample_database_url) as app:
        state = app.extensions["gridgis"]
        with state.sessions() as session:
            add_user(session, "leak_check", "viewer")
            session.commit()  # as a command would: only a savepoint here
        browser = app.test_client()
        with browser.session_transaction() as cookie:
            cookie["csrf_token"] = "t"
        form = {"username": "leak_check", "password": PASSWORD, "csrf_token": "t"}
        assert browser.post("/login", data=form).status_code == 302  # committed by the request
        with state.sessions() as session:
            assert session.scalar(sa.select(User.id).where(User.username == "leak_check"))
            assert session.scalar(
                sa.select(sa.func.count()).where(AuditEntry.entity_id == "leak_check")
            )
        # Another connection (another test) does not see any of it, even now ...
        assert count(sample_database_url, User, username="leak_check") == 0
    # ... nor afterwards.
    assert count(sample_database_url, User, username="leak_check") == 0
    assert count(sample_database_url, AuditEntry, entity_id="leak_check") == 0
