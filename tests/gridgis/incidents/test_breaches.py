"""Overdue as it stood at a past moment (breached_at): from the history; at now, as breached.

On the known month of tests/support/reports.py: I4 was accepted on time on
20 November and reported done only on 2 December.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.incidents.breaches import breached, breached_at, breaches, status_at
from gridgis.models import Incident
from tests.support.reports import MONTH_END, NOW, Month, add_month, bj
from tests.support.sample_community import build_sample_community


@pytest.fixture
def month(db_session: Session) -> Iterator[Month]:
    build_sample_community(db_session)
    made = add_month(db_session)
    with clock.frozen(NOW):
        yield made


def overdue_ids(session: Session, clause: sa.ColumnElement[bool]) -> set[int]:
    return set(session.scalars(sa.select(Incident.id).where(clause)))


def test_at_now_it_answers_as_breached_and_breaches_do(db_session: Session, month: Month) -> None:
    now = overdue_ids(db_session, breached_at("any", NOW))
    assert now == overdue_ids(db_session, breached("any", NOW))
    assert now == {i.id for i in month.incidents.values() if breaches(i, NOW)}
    assert now == {month.incidents[n].id for n in ("I2", "I5", "I6")}
    for which in ("response", "resolution"):
        assert overdue_ids(db_session, breached_at(which, NOW)) == overdue_ids(
            db_session, breached(which, NOW)
        )


def test_at_a_months_end_what_was_done_since_does_not_count(
    db_session: Session, month: Month
) -> None:
    i = {name: incident.id for name, incident in month.incidents.items()}
    then = overdue_ids(db_session, breached_at("any", MONTH_END))
    # I4 was in progress past its resolution deadline then; it is being checked now.
    assert then == {i["I2"], i["I4"]}
    assert i["I4"] not in overdue_ids(db_session, breached("any", MONTH_END))
    assert overdue_ids(db_session, breached_at("resolution", MONTH_END)) == {i["I2"], i["I4"]}
    assert overdue_ids(db_session, breached_at("response", MONTH_END)) == {i["I2"]}
    # I6 was reported after November's end: not anyone's work yet then.
    assert i["I6"] not in then


def test_the_status_then_comes_from_the_history(db_session: Session, month: Month) -> None:
    i = month.incidents

    def then(name: str, at: object) -> str | None:
        return db_session.scalar(sa.select(status_at(at)).where(Incident.id == i[name].id))

    assert then("I4", MONTH_END) == "in_progress" and i["I4"].status == "checked"
    assert then("I1", bj(11, 3, 12)) == "in_progress"
    assert then("I1", MONTH_END) == "closed"
    assert then("I10", bj(11, 25, 10, 5)) == "registered"  # parked a minute later
    # Before its first event (a report taken in later than it was made): received.
    assert then("I2", bj(11, 10, 0)) == "received"
