"""``gridgis user``, ``gridgis apikey``, ``gridgis audit`` and the demo administrator.

Each test has a database of its own (``scratch_database_url``): the commands commit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session

from gridgis.access import sessions
from gridgis.access.apikeys import verify_key
from gridgis.access.logins import AuthenticationFailed, log_in
from gridgis.access.permissions import Principal
from gridgis.cli import main
from gridgis.models import User

PASSWORD = "a long enough password"
KEY = re.compile(r"ggk_[A-Za-z0-9_-]{8}_[A-Za-z0-9_-]{32,}")


@pytest.fixture
def db(scratch_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    monkeypatch.setattr("getpass.getuser", lambda: "tester")
    monkeypatch.delenv("GRIDGIS_PASSWORD", raising=False)
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def gridgis(*args: object, password: str | None = None, stdin: str | None = None) -> Result:
    env = {"GRIDGIS_PASSWORD": password} if password is not None else None
    return CliRunner().invoke(
        main, [str(a) for a in args], env=env, input=stdin, catch_exceptions=False
    )


def ok(*args: object, **kwargs: str) -> str:
    result = gridgis(*args, **kwargs)
    assert result.exit_code == 0, result.output
    return result.output


def authenticate(session: Session, username: str, password: str) -> Principal:
    """Log in as the web would (the caller commits, or not)."""
    return log_in(session, username, password, source="192.0.2.1", pepper=b"tests")


def audit_actions(engine: sa.Engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text("SELECT actor, action, entity, entity_id FROM audit_log ORDER BY id")
            )
        ]


def test_user_add_reads_the_password_from_the_environment(db: sa.Engine) -> None:
    out = ok("user", "add", "alice", "--role", "planner", password=PASSWORD)
    assert out == "Account alice created (role planner).\n"
    with Session(db) as session:
        assert authenticate(session, "alice", PASSWORD).role == "planner"
    assert audit_actions(db) == [("cli:tester", "create", "user", "alice")]


def test_user_add_prompts_twice_when_no_password_is_given(db: sa.Engine) -> None:
    out = ok("user", "add", "bob", "--role", "viewer", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert "Password:" in out and "Repeat for confirmation:" in out
    assert PASSWORD not in out  # hidden input
    assert out.endswith("Account bob created (role viewer).\n")


def test_user_add_errors(db: sa.Engine) -> None:
    result = gridgis("user", "add", "alice", "--role", "planner", password="short")
    assert result.exit_code == 1
    assert "Error: The password is too short" in result.output
    result = gridgis("user", "add", "zhang", "--role", "grid_staff", password=PASSWORD)
    assert result.exit_code == 1
    assert "Error: A grid_staff account needs the staff record" in result.output
    ok("user", "add", "alice", "--role", "planner", password=PASSWORD)
    result = gridgis("user", "add", "alice", "--role", "planner", password=PASSWORD)
    assert result.exit_code == 1
    assert "Error: The username 'alice' is taken" in result.output
    result = gridgis("user", "add", "carol", "--role", "boss", password=PASSWORD)
    assert result.exit_code == 2 and "'boss' is not one of" in result.output


def test_user_list_disable_enable_role_password(db: sa.Engine) -> None:
    ok("user", "add", "root", "--role", "admin", password=PASSWORD)
    ok("user", "add", "alice", "--role", "planner", password=PASSWORD)
    lines = ok("user", "list").splitlines()
    header = ["username", "role", "staff", "status", "sessions", "failed", "last", "login"]
    assert lines[0].split() == header
    assert lines[1].split() == ["alice", "planner", "-", "active", "0", "0", "-"]
    assert lines[2].split() == ["root", "admin", "-", "active", "0", "0", "-"]

    assert ok("user", "disable", "alice") == "Account alice disabled; its sessions have ended.\n"
    listed = ok("user", "list").splitlines()[1].split()
    assert listed == ["alice", "planner", "-", "disabled", "0", "0", "-"]
    assert ok("user", "enable", "alice") == "Account alice enabled.\n"
    assert ok("user", "role", "alice", "dispatcher") == (
        "Account alice now has the role dispatcher.\n"
    )
    out = ok("user", "password", "alice", password="a brand new password")
    assert out == "Password of alice changed; its sessions have ended.\n"
    with Session(db) as session:
        assert authenticate(session, "alice", "a brand new password").role == "dispatcher"
    assert ok("user", "list").splitlines()[1].split()[3:6] == ["active", "0", "0"]

    result = gridgis("user", "disable", "root")
    assert result.exit_code == 1 and "only enabled administrator" in result.output
    result = gridgis("user", "disable", "nobody")
    assert result.exit_code == 1 and "Error: No account named 'nobody'" in result.output
    assert [a[1] for a in audit_actions(db)] == [
        "create",
        "create",
        "disable",
        "enable",
        "set_role",
        "reset_password",
    ]


def test_user_sessions_and_logout_everywhere(db: sa.Engine) -> None:
    ok("user", "add", "alice", "--role", "planner", password=PASSWORD)
    assert ok("user", "sessions", "alice") == "alice has no live session.\n"
    with Session(db) as session:
        alice = session.scalars(sa.select(User)).one()
        for source in ("192.0.2.1", "192.0.2.2"):
            sessions.start_session(session, alice, source=source, user_agent="Firefox/140")
        with pytest.raises(AuthenticationFailed):  # a wrong password, counted in "failed"
            authenticate(session, "alice", "not the password")
        session.commit()
    header, *rows = ok("user", "sessions", "alice").splitlines()
    assert header.split() == ["started", "last", "seen", "ends", "from", "browser"]
    assert sorted(r.split()[-2] for r in rows) == ["192.0.2.1", "192.0.2.2"]
    assert all(r.endswith("Firefox/140") for r in rows)
    assert ok("user", "list").splitlines()[1].split()[3:6] == ["active", "2", "1"]

    out = ok("user", "logout", "alice")
    assert out == "Account alice logged out everywhere (2 sessions).\n"
    assert ok("user", "sessions", "alice") == "alice has no live session.\n"
    assert ok("user", "enable", "alice") == "Account alice enabled.\n"  # forgets the failure
    assert ok("user", "list").splitlines()[1].split()[3:6] == ["active", "0", "0"]
    assert [a[1] for a in audit_actions(db)] == [
        "create",
        "login_failed",
        "end_sessions",
        "enable",
    ]
    result = gridgis("user", "logout", "nobody")
    assert result.exit_code == 1 and "Error: No account named 'nobody'" in result.output


def test_user_hint_until_there_is_an_admin(db: sa.Engine) -> None:
    assert ok("user", "hint") == (
        "No administrator yet: create one with "
        "GRIDGIS_PASSWORD=... gridgis user add NAME --role admin\n"
    )
    ok("user", "add", "root", "--role", "admin", password=PASSWORD)
    assert ok("user", "hint") == ""


def test_apikey_is_printed_once_and_never_listed(db: sa.Engine) -> None:
    out = ok("apikey", "add", "hotline", "--scope", "route:read,open311:write")
    [key] = KEY.findall(out)
    assert out.count(key) == 1
    assert "API key hotline created with the scopes route:read, open311:write" in out
    assert "cannot be shown again" in out
    with Session(db) as session:
        assert verify_key(session, key).scopes == ["route:read", "open311:write"]
        session.commit()
        stored = session.execute(sa.text("SELECT * FROM api_key")).mappings().one()
    assert all(key not in str(v) for v in stored.values())

    listing = ok("apikey", "list")
    assert key not in listing and key[13:] not in listing
    header, row = listing.splitlines()
    assert header.split() == ["name", "prefix", "scopes", "created", "revoked", "last", "used"]
    assert row.startswith(f"hotline  ggk_{stored['prefix']}_…  route:read,open311:write  ")
    assert row.split()[-2:] != ["-", "-"] and row.count(" - ") == 1  # used, not revoked

    assert ok("apikey", "revoke", "hotline") == (
        "API key hotline revoked; clients using it are refused from now on.\n"
    )
    assert ok("apikey", "list").splitlines()[1].split()[-1] != "-"
    result = gridgis("apikey", "add", "other", "--scope", "users:manage")
    assert result.exit_code == 1
    assert "Error: Unknown scope 'users:manage'; an API key may have" in result.output


def test_audit_list_and_export(db: sa.Engine, tmp_path: Path) -> None:
    assert ok("audit", "list") == "The audit log is empty.\n"
    ok("user", "add", "root", "--role", "admin", password=PASSWORD)
    ok("user", "add", "alice", "--role", "planner", password=PASSWORD)
    ok("user", "role", "alice", "viewer")
    lines = ok("audit", "list", "--limit", "2").splitlines()
    assert len(lines) == 3
    assert lines[1].split()[2:] == [
        "cli:tester",
        "set_role",
        "user",
        "alice",
        "role:",
        "planner",
        "→",
        "viewer;",
        "sessions_ended=0",
    ]
    assert "user alice" in lines[2] and "role=planner" in lines[2]

    out = tmp_path / "audit.jsonl"
    assert ok("audit", "export", out) == f"Exported 3 audit entries to {out}.\n"
    entries = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [e["action"] for e in entries] == ["create", "create", "set_role"]
    assert "argon2" not in out.read_text(encoding="utf-8")
    result = gridgis("audit", "export", tmp_path / "audit.txt")
    assert result.exit_code == 1 and "use .csv or .jsonl" in result.output


def test_demo_load_creates_the_demo_admin_once(db: sa.Engine) -> None:
    out = ok("demo", "load", "--if-empty")
    match = re.search(
        r"^Demo administrator: admin / (\S+) \(shown once; change it with "
        r"`gridgis user password admin`\)$",
        out,
        re.MULTILINE,
    )
    assert match, out
    password = match.group(1)
    assert out.count(password) == 1
    with Session(db) as session:
        assert authenticate(session, "admin", password).role == "admin"
    assert ok("user", "hint") == ""

    again = ok("demo", "load", "--if-empty")
    assert again == "The database already holds a community; demo not loaded.\n"
    assert ("cli:tester", "create", "user", "admin") in audit_actions(db)


def test_imports_are_audited(scratch_database_url: str, tmp_path: Path) -> None:
    from gridgis.cli import main
    from gridgis.demo.loader import SHAPES_DIR

    runner = CliRunner()
    imported = runner.invoke(
        main,
        [
            "import",
            "community",
            str(SHAPES_DIR / "community.geojson"),
            "--community",
            "420111003012",
        ],
    )
    assert imported.exit_code == 0, imported.output
    exported = runner.invoke(
        main, ["export", "community", str(tmp_path / "c.geojson"), "--community", "420111003012"]
    )
    assert exported.exit_code == 0, exported.output
    engine = sa.create_engine(scratch_database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT actor, action, entity FROM audit_log")).all()
    engine.dispose()
    assert [(a, e) for _, a, e in rows] == [("import", "community")]
    assert rows[0][0].startswith("cli:")
