"""The demo community loaded once per test module, each test in a transaction rolled back."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.demo.loader import load_demo
from tests.support.actors import TESTS


@pytest.fixture(scope="module")
def demo_engine(database_from_template: Callable[[str], str]) -> Iterator[Engine]:
    """A database of the module's own with the demo loaded (a few seconds: once per module)."""
    engine = sa.create_engine(database_from_template("_plan"), poolclass=sa.pool.NullPool)
    with clock.frozen(clock.now()), Session(engine) as session, session.begin():
        load_demo(session, actor=TESTS)
    yield engine
    engine.dispose()


@pytest.fixture
def demo_session(demo_engine: Engine) -> Iterator[Session]:
    with demo_engine.connect() as conn:
        outer = conn.begin()
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            outer.rollback()
