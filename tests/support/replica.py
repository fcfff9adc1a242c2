"""A throwaway primary and hot standby of their own, for the replica's tests and bench.

Never a base backup of the shared cluster (it may hold gigabytes): a fresh
``initdb`` in a temporary directory, on free ports, with the roles
``scripts/pgcluster.sh`` makes (owner, app group, app login, a replication
role), PostGIS in the database, then ``pg_basebackup -R`` into a standby that
streams from it, as ``scripts/replica.sh`` makes one. As root (PostgreSQL
refuses to run as root) both servers run as the ``postgres`` system user.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def server_binaries() -> Path | None:
    """The directory of initdb, pg_ctl and pg_basebackup (the newest installed), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    if found:
        return found[-1]
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_owner(command), capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[:2])} failed:\n{done.stdout}{done.stderr}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """One of the pair: its data directory, socket directory and port."""

    bin: Path
    data: Path
    run: Path
    port: int

    def url(self, role: str, password: str, database: str = "gridgis") -> str:
        return f"postgresql+psycopg://{role}:{password}@127.0.0.1:{self.port}/{database}"

    def admin(self, database: str = "gridgis") -> Engine:
        """The superuser over the server's own socket (trusted there only)."""
        return sa.create_engine(
            f"postgresql+psycopg://postgres@/{database}?host={self.run}&port={self.port}",
            isolation_level="AUTOCOMMIT",
            poolclass=sa.pool.NullPool,
        )

    def start(self) -> None:
        log = self.data.parent / f"{self.data.name}.log"
        _run(
            [f"{self.bin}/pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "start"]
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            _run([f"{self.bin}/pg_ctl", "-D", str(self.data), "-w", "-m", "immediate", "stop"])


@dataclass(frozen=True)
class Pair:
    """A primary and its hot standby, and the URLs the app and its tests use."""

    primary: Server
    standby: Server
    #: The app's login (member of gridgis_app) on the primary and on the standby.
    app_url: str
    read_url: str
    #: The schema's owner on the primary, for migrations.
    owner_url: str


def _configure(data: Path, port: int, run: Path, extra: str = "") -> None:
    conf = (
        f"\n# gridgis test pair\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
        f"unix_socket_directories = '{run}'\nunix_socket_permissions = 0700\n"
        "fsync = off\nsynchronous_commit = off\nmax_connections = 60\n"
        "password_encryption = scram-sha-256\n" + extra
    )
    _run(["sh", "-c", f"cat >> '{data}/postgresql.conf' <<'EOF'\n{conf}EOF\n"])


HBA = """local   all          all                 trust
host    all          all         127.0.0.1/32  scram-sha-256
host    replication  replicator  127.0.0.1/32  scram-sha-256
"""


def _roles_sql(app_pw: str, owner_pw: str, replication_pw: str) -> list[str]:
    return [
        f"CREATE ROLE gridgis_owner LOGIN CREATEDB PASSWORD '{owner_pw}'",
        "CREATE ROLE gridgis_app NOLOGIN",
        f"CREATE ROLE gridgis LOGIN PASSWORD '{app_pw}' IN ROLE gridgis_app",
        f"CREATE ROLE replicator LOGIN REPLICATION PASSWORD '{replication_pw}'",
        "CREATE DATABASE gridgis OWNER gridgis_owner",
    ]


@contextmanager
def replica_pair() -> Iterator[Pair]:
    """Start a primary with an empty gridgis database and a standby streaming from it."""
    binaries = server_binaries()
    if binaries is None:
        raise RuntimeError("PostgreSQL server binaries not found: run 'make system' first.")
    # Not pytest's tmp_path: as root it is under a 0700 directory postgres cannot enter.
    base = Path(tempfile.mkdtemp(prefix="gridgis-replica-"))
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    primary = Server(binaries, base / "primary", base / "run-primary", _free_port())
    standby = Server(binaries, base / "standby", base / "run-standby", _free_port())
    passwords = [secrets.token_urlsafe(18) for _ in range(3)]
    app_pw, owner_pw, replication_pw = passwords
    try:
        for run in (primary.run, standby.run):
            _run(["mkdir", "-m", "700", str(run)])
        _run(
            [
                f"{binaries}/initdb",
                "-D",
                str(primary.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
        _configure(primary.data, primary.port, primary.run)
        _run(["sh", "-c", f"cat > '{primary.data}/pg_hba.conf' <<'EOF'\n{HBA}EOF\n"])
        primary.start()
        admin = primary.admin("postgres")
        with admin.connect() as conn:
            for statement in _roles_sql(app_pw, owner_pw, replication_pw):
                conn.execute(sa.text(statement))
        admin = primary.admin()
        with admin.connect() as conn:
            for extension in ("postgis", "pg_trgm", "btree_gist"):
                conn.execute(sa.text(f"CREATE EXTENSION {extension}"))
        _run(
            [
                f"{binaries}/pg_basebackup",
                "-D",
                str(standby.data),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "-d",
                f"host=127.0.0.1 port={primary.port} user=replicator password={replication_pw}",
            ]
        )
        _configure(standby.data, standby.port, standby.run, "hot_standby = on\n")
        standby.start()
        wait_streaming(standby)
        yield Pair(
            primary=primary,
            standby=standby,
            app_url=primary.url("gridgis", app_pw),
            read_url=standby.url("gridgis", app_pw),
            owner_url=primary.url("gridgis_owner", owner_pw),
        )
    finally:
        standby.stop()
        primary.stop()
        shutil.rmtree(base, ignore_errors=True)


def wait_streaming(standby: Server, timeout_s: float = 30.0) -> None:
    """Until the standby's WAL receiver streams from the primary."""
    deadline = time.monotonic() + timeout_s
    admin = standby.admin("postgres")
    while True:
        with admin.connect() as conn:
            status = conn.execute(sa.text("SELECT status FROM pg_stat_wal_receiver")).scalar()
        if status == "streaming":
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the standby does not stream (status {status!r})")
        time.sleep(0.05)


def wait_replayed(pair: Pair, timeout_s: float = 30.0) -> None:
    """Until the standby has replayed everything the primary has written so far."""
    with pair.primary.admin().connect() as conn:
        lsn = conn.execute(sa.text("SELECT pg_current_wal_lsn()")).scalar_one()
    deadline = time.monotonic() + timeout_s
    with pair.standby.admin().connect() as conn:
        while not conn.execute(
            sa.text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"), {"lsn": lsn}
        ).scalar_one():
            if time.monotonic() > deadline:
                raise RuntimeError("the standby has not replayed the primary's writes")
            time.sleep(0.02)


def set_replay(pair: Pair, *, paused: bool) -> None:
    """Pause or resume WAL replay on the standby (what the check of `make replica` does)."""
    call = "pg_wal_replay_pause()" if paused else "pg_wal_replay_resume()"
    with pair.standby.admin().connect() as conn:
        conn.execute(sa.text(f"SELECT {call}"))
