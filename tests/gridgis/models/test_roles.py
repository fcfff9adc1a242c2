"""The app's database role cannot rewrite history (issue 8, item 2).

Every test here connects as the role the web app uses (``DATABASE_URL``: a
member of ``gridgis_app``, neither superuser nor owner) and tries one way of
changing the audit log behind the triggers' back; each must be refused by the
database itself. The same role can still do the app's work.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gridgis.db import check_least_privilege
from gridgis.errors import GridgisError

#: Ways a superuser or owner could rewrite the audit log, with what PostgreSQL answers.
REWRITES = {
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only": "must be owner",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL": "must be owner",
    "DROP TRIGGER audit_log_append_only ON audit_log": "must be owner",
    "DROP TABLE audit_log": "must be owner",
    "ALTER TABLE audit_log OWNER TO CURRENT_USER": "must be owner",
    "SET session_replication_role = replica": "permission denied to set parameter",
    "TRUNCATE audit_log": "permission denied",
    "UPDATE audit_log SET actor = 'someone else'": "permission denied",
    "DELETE FROM audit_log": "permission denied",
    "CREATE TRIGGER t BEFORE INSERT ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION gridgis_audit_append_only()": "permission denied",
    "CREATE TABLE audit_log_copy (id int)": "permission denied for schema public",
    "ALTER ROLE CURRENT_USER SUPERUSER": "must be superuser",
    "UPDATE alembic_version SET version_num = '0001'": "permission denied",
    "UPDATE routing_epoch SET epoch = 0": "permission denied",
}


@pytest.mark.parametrize("statement", sorted(REWRITES))
def test_the_app_role_cannot_rewrite_history(engine: Engine, statement: str) -> None:
    with (
        engine.connect() as conn,
        conn.begin(),
        pytest.raises(sa.exc.DBAPIError, match=REWRITES[statement]),
    ):
        conn.execute(sa.text(statement))


def test_the_app_role_is_neither_superuser_nor_owner(engine: Engine) -> None:
    with engine.connect() as conn:
        superuser = conn.scalar(
            sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        )
        owned = conn.scalar(
            sa.text("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")
        )
    assert superuser is False and owned == 0
    check_least_privilege(engine)  # what `gridgis serve` checks before it starts


def test_serving_as_the_owner_is_refused(owner_database_url: str) -> None:
    owner = sa.create_engine(owner_database_url, poolclass=sa.pool.NullPool)
    with pytest.raises(
        GridgisError, match=r"is the owner of \d+ table\(s\): it could rewrite the audit log"
    ):
        check_least_privilege(owner)
    owner.dispose()


def test_the_app_role_still_does_the_apps_work(engine: Engine) -> None:
    """Append to the log, write places (their trigger moves the routing epoch as the owner)."""
    with engine.connect() as conn, conn.begin() as transaction:
        before = conn.scalar(sa.text("SELECT epoch FROM routing_epoch"))
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (actor, action, entity) VALUES ('cli:tests', 'test', 'x')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO community (code, name, boundary) VALUES ('R1', 'r', "
                "ST_Multi(ST_MakeEnvelope(114.3, 30.5, 114.31, 30.51, 4326)))"
            )
        )
        assert conn.scalar(sa.text("SELECT epoch FROM routing_epoch")) != before
        transaction.rollback()
