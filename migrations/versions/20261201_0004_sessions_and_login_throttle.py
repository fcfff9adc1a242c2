"""sessions on the server, login throttling by account and address

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

A login is now a row of ``user_session`` (the cookie holds a random token,
the row its SHA-256): logging out deletes the row, so a copied cookie dies
with it, and a password change, a disable or a role change deletes every row
of the account. This replaces ``app_user.sessions_valid_from``.

Failed logins are counted per account (or unknown name) and address in
``login_throttle``, with growing waits instead of a lock anyone could set
off. This replaces ``app_user.failed_logins`` and ``locked_until``.

Both tables are ordinary (no triggers): the web app inserts, updates and
deletes their rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_session",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        # An account's sessions go with it (accounts are disabled, not deleted, today).
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_user_session_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_session_token_hash")),
    )
    op.create_index("ix_user_session_user_id", "user_session", ["user_id"], unique=False)
    op.create_table(
        "login_throttle",
        sa.Column("account_key", sa.String(length=80), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("refused", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("failures >= 0", name=op.f("ck_login_throttle_failures_nonnegative")),
        sa.CheckConstraint("refused >= 0", name=op.f("ck_login_throttle_refused_nonnegative")),
        sa.PrimaryKeyConstraint("account_key", "address", name=op.f("pk_login_throttle")),
    )
    op.create_index("ix_login_throttle_updated_at", "login_throttle", ["updated_at"], unique=False)
    # Every session issued under the old scheme (a signed cookie checked against
    # sessions_valid_from) ends here: there is no row for it.
    op.drop_constraint(op.f("ck_app_user_failed_logins_nonnegative"), "app_user", type_="check")
    op.drop_column("app_user", "failed_logins")
    op.drop_column("app_user", "locked_until")
    op.drop_column("app_user", "sessions_valid_from")


def downgrade() -> None:
    op.add_column(
        "app_user",
        sa.Column(
            "sessions_valid_from",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column("app_user", sa.Column("locked_until", sa.DateTime(timezone=True)))
    op.add_column(
        "app_user",
        sa.Column("failed_logins", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_app_user_failed_logins_nonnegative"), "app_user", "failed_logins >= 0"
    )
    op.drop_index("ix_login_throttle_updated_at", table_name="login_throttle")
    op.drop_table("login_throttle")
    op.drop_index("ix_user_session_user_id", table_name="user_session")
    op.drop_table("user_session")
