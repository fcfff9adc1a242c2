"""least privilege: the web app's role may write data, not the schema or history

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Migrations run as the owner of the tables (``DATABASE_OWNER_URL``); the web
app and every other command run as a login role that is a member of
``gridgis_app`` (``DATABASE_URL``), neither superuser nor owner. This
migration gives ``gridgis_app`` exactly what the app needs:

- SELECT, INSERT, UPDATE, DELETE on the data tables, and their sequences;
- on ``audit_log``: INSERT and SELECT only. Not being the owner, the app
  cannot ALTER the table (disable or drop its append-only triggers), TRUNCATE
  it, or SET session_replication_role (superuser only);
- ``routing_epoch``: SELECT only; its trigger function runs as the owner
  (SECURITY DEFINER, with a fixed search_path), so writes to the places still
  move the epoch;
- ``alembic_version``: SELECT only (the app may read, not fake, the schema's
  version);
- tables of later migrations get the data privileges by default; a migration
  that adds history-like tables revokes what they must not allow, as here.

The role itself is made here when the owner may (the local cluster makes it
beforehand); otherwise the migration stops and says what a database
administrator must run.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APP_ROLE = "gridgis_app"
#: History and bookkeeping: the app reads them, or appends, and nothing more.
READ_ONLY = ("alembic_version", "routing_epoch")
APPEND_ONLY = ("audit_log",)

ENSURE_ROLE = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    BEGIN
      CREATE ROLE {APP_ROLE} NOLOGIN;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE EXCEPTION USING
        MESSAGE = 'The role {APP_ROLE} does not exist, and ' || current_user
                  || ' may not create it.',
        HINT = 'As a database administrator, run: CREATE ROLE {APP_ROLE} NOLOGIN; '
               'GRANT {APP_ROLE} TO <the web app''s login role>; then migrate again.';
    END;
  END IF;
END
$$;
"""


def upgrade() -> None:
    op.execute(ENSURE_ROLE)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    for table in READ_ONLY:
        op.execute(f"REVOKE INSERT, UPDATE, DELETE ON {table} FROM {APP_ROLE}")
    for table in APPEND_ONLY:
        op.execute(f"REVOKE UPDATE, DELETE ON {table} FROM {APP_ROLE}")
    # The epoch moves through its trigger, as the owner: the app needs neither
    # the table's UPDATE nor the sequence.
    op.execute(
        "ALTER FUNCTION gridgis_bump_routing_epoch() SECURITY DEFINER "
        "SET search_path = public, pg_temp"
    )
    op.execute(f"REVOKE USAGE, SELECT ON SEQUENCE routing_epoch_seq FROM {APP_ROLE}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}"
    )


def downgrade() -> None:
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE USAGE, SELECT ON SEQUENCES FROM {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}"
    )
    op.execute("ALTER FUNCTION gridgis_bump_routing_epoch() SECURITY INVOKER RESET search_path")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
