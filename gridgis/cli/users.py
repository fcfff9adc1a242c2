"""``gridgis user``, ``gridgis apikey`` and ``gridgis audit``: accounts, keys, the audit log.

Every write runs in one transaction with its audit entry; the actor is
``cli:<operating-system user>``. Passwords come from ``GRIDGIS_PASSWORD`` or
a hidden prompt, never from the command line (where ``ps`` and shell history
would keep them). An API key is printed once, after its transaction commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import click

from gridgis import audit, clock
from gridgis.access import accounts, apikeys, logins, sessions
from gridgis.access.permissions import API_SCOPES
from gridgis.cli.common import PASSWORD_ENV, cli_actor, read_password
from gridgis.db import engine_scope, unit_of_work
from gridgis.models import USER_ROLES


def _when(moment: dt.datetime | None) -> str:
    return clock.show(moment)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


# -- gridgis user ------------------------------------------------------------


@click.group()
def user() -> None:
    """Accounts of people who log in (roles: admin, planner, dispatcher, grid_staff, viewer)."""


staff_option = click.option(
    "--staff",
    "staff_code",
    metavar="CODE",
    help="The person's staff code (required for grid_staff: it sets their area).",
)
community_option = click.option(
    "--community",
    "community_code",
    metavar="CODE",
    help="The community of --staff, when that code is used in several.",
)


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(USER_ROLES), help="The account's role.")
@staff_option
@community_option
def user_add(username: str, role: str, staff_code: str | None, community_code: str | None) -> None:
    """Create the account USERNAME (password from GRIDGIS_PASSWORD, else asked)."""
    password = read_password()
    with engine_scope() as engine, unit_of_work(engine) as session:
        accounts.create_user(
            session,
            username,
            password,
            role,
            staff_code=staff_code,
            community_code=community_code,
            actor=cli_actor(),
        )
    staff = f", staff {staff_code}" if staff_code else ""
    click.echo(f"Account {username} created (role {role}{staff}).")


@user.command("list")
def user_list() -> None:
    """List the accounts: status, live sessions, failed logins in the last day (staff by code)."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        rows = [
            (
                u.username,
                u.role,
                u.staff.code if u.staff is not None else "-",
                "disabled" if u.disabled else "active",
                str(len(sessions.list_sessions(session, u))),
                str(logins.recent_failures(session, u)),
                _when(u.last_login_at),
            )
            for u in accounts.list_users(session)
        ]
    if not rows:
        click.echo("No accounts yet. Create one with `gridgis user add NAME --role admin`.")
        return
    _table(("username", "role", "staff", "status", "sessions", "failed", "last login"), rows)


@user.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable USERNAME: no more logins, and its sessions end."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        accounts.disable_user(session, username, actor=cli_actor())
    click.echo(f"Account {username} disabled; its sessions have ended.")


@user.command("enable")
@click.argument("username")
def user_enable(username: str) -> None:
    """Enable USERNAME again, and forget its failed logins (no more waits)."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        accounts.enable_user(session, username, actor=cli_actor())
    click.echo(f"Account {username} enabled.")


@user.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(USER_ROLES))
@staff_option
@community_option
def user_role(username: str, role: str, staff_code: str | None, community_code: str | None) -> None:
    """Give USERNAME the role ROLE (its sessions end)."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        accounts.set_role(
            session,
            username,
            role,
            staff_code=staff_code,
            community_code=community_code,
            actor=cli_actor(),
        )
    click.echo(f"Account {username} now has the role {role}.")


@user.command("password")
@click.argument("username")
def user_password(username: str) -> None:
    """Reset USERNAME's password (from GRIDGIS_PASSWORD, else asked); its sessions end."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        account = accounts.get_user(session, username)
        password = read_password("New password")
        accounts.change_password(session, account, None, password, actor=cli_actor())
    click.echo(f"Password of {username} changed; its sessions have ended.")


@user.command("sessions")
@click.argument("username")
def user_sessions(username: str) -> None:
    """List the live sessions of USERNAME: when, from where, with what browser."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        account = accounts.get_user(session, username)
        rows = [
            (
                _when(s.created_at),
                _when(s.last_seen_at),
                _when(s.expires_at),
                s.source or "-",
                (s.user_agent or "-")[:60],
            )
            for s in sessions.list_sessions(session, account)
        ]
    if not rows:
        click.echo(f"{username} has no live session.")
        return
    _table(("started", "last seen", "ends", "from", "browser"), rows)


@user.command("logout")
@click.argument("username")
def user_logout(username: str) -> None:
    """End every session of USERNAME (log out everywhere)."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        account = accounts.get_user(session, username)
        count = sessions.log_out_everywhere(session, account, actor=cli_actor())
    click.echo(f"Account {username} logged out everywhere ({count} session{'s' * (count != 1)}).")


@user.command("hint")
def user_hint() -> None:
    """Say how to create the first administrator, if there is none yet (for `make run`)."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        if accounts.has_admin(session):
            return
    click.echo(
        "No administrator yet: create one with "
        f"{PASSWORD_ENV}=... gridgis user add NAME --role admin"
    )


# -- gridgis apikey ----------------------------------------------------------


@click.group()
def apikey() -> None:
    """API keys of machine clients; a key may do only what its scopes allow."""


@apikey.command("add")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    required=True,
    metavar="SCOPE[,SCOPE]",
    help=f"What the key may do: {', '.join(API_SCOPES)} (comma-separated).",
)
def apikey_add(name: str, scopes: str) -> None:
    """Create the API key NAME and print it (once: only its hash is kept)."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        row, key = apikeys.create_key(session, name, scopes.split(","), actor=cli_actor())
        granted = ", ".join(row.scopes)
    click.echo(f"API key {name} created with the scopes {granted}:")
    click.echo("")
    click.echo(f"    {key}")
    click.echo("")
    click.echo(
        "Copy it now: it cannot be shown again (only its hash is stored). "
        f"If it is lost, revoke it (`gridgis apikey revoke {name}`) and make another."
    )


@apikey.command("list")
def apikey_list() -> None:
    """List the API keys (never the keys themselves)."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        rows = [
            (
                k.name,
                apikeys.display_prefix(k),
                ",".join(k.scopes),
                _when(k.created_at),
                _when(k.revoked_at),
                _when(k.last_used_at),
            )
            for k in apikeys.list_keys(session)
        ]
    if not rows:
        click.echo("No API keys yet. Create one with `gridgis apikey add NAME --scope SCOPE`.")
        return
    _table(("name", "prefix", "scopes", "created", "revoked", "last used"), rows)


@apikey.command("revoke")
@click.argument("name")
def apikey_revoke(name: str) -> None:
    """Revoke the API key NAME for good."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        apikeys.revoke_key(session, name, actor=cli_actor())
    click.echo(f"API key {name} revoked; clients using it are refused from now on.")


# -- gridgis audit -----------------------------------------------------------


@click.group("audit")
def audit_group() -> None:
    """The audit log: every write, who made it and when (append-only)."""


@audit_group.command("list")
@click.option("--limit", type=click.IntRange(1, audit.MAX_LIMIT), default=20, show_default=True)
@click.option("--actor", metavar="ACTOR", help="Only this actor's writes (user:alice, cli:root).")
@click.option("--entity", metavar="ENTITY", help="Only writes to this kind of thing (user ...).")
def audit_list(limit: int, actor: str | None, entity: str | None) -> None:
    """Show the newest entries of the audit log."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        found = audit.entries(session, limit=limit, actor=actor, entity=entity)
        rows = [
            (
                _when(e.at),
                e.actor,
                e.action,
                f"{e.entity} {e.entity_id or ''}".strip(),
                _changes(e.before, e.after),
            )
            for e in found
        ]
    if not rows:
        click.echo("The audit log is empty.")
        return
    _table(("when", "who", "action", "what", "changes"), rows)


@audit_group.command("export")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def audit_export(out: Path) -> None:
    """Write the whole audit log to OUT (.csv or .jsonl)."""
    with engine_scope() as engine, unit_of_work(engine) as session:
        count = audit.export(session, out)
    click.echo(f"Exported {count} audit entries to {out}.")


def _changes(before: dict | None, after: dict | None) -> str:
    before, after = before or {}, after or {}
    parts = []
    for field in dict.fromkeys([*before, *after]):
        old, new = before.get(field), after.get(field)
        if field in before and field in after:
            if old != new:
                parts.append(f"{field}: {old} → {new}")
        elif field in after:
            parts.append(f"{field}={new}")
        else:
            parts.append(f"{field} was {old}")
    return "; ".join(parts)
