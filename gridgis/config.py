"""Settings, read from the environment (and nothing at import time).

``DATABASE_URL`` names the database the app connects to, as a role that is
neither superuser nor owner; ``DATABASE_OWNER_URL`` names it as the owner of
the schema, for migrations (``gridgis db upgrade``) only;
``GRIDGIS_READ_DATABASE_URL``, when set, a hot standby of it that serves the
web app's reads (``web.db.get_read_session``). When the first two are unset,
gridgis uses the project-local PostGIS cluster that ``make run`` starts under
``var/``, whose two roles' passwords ``scripts/pgcluster.sh`` generated into
``var/secrets/`` (docs/security.md, "The database roles").
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Port of the project-local cluster (see scripts/pgcluster.sh).
LOCAL_PG_PORT = int(os.environ.get("GRIDGIS_PGPORT", "55432"))
#: Where scripts/pgcluster.sh keeps the local roles' passwords (mode 0600).
SECRETS_DIR = PROJECT_ROOT / "var" / "secrets"

TILE_MODES = ("none", "xyz", "tianditu")
#: Days between visits per care flag (四访): elderly people living alone weekly,
#: petitioners fortnightly, hardship households monthly, retirees quarterly.
DEFAULT_VISIT_INTERVALS = "elderly_alone=7,petitioner=14,hardship=30,retiree=90"


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver whatever scheme the user wrote."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _local_url(role: str, password_file: str) -> str:
    """The project-local cluster as ``role``, with its generated password (if made yet)."""
    try:
        password = (SECRETS_DIR / password_file).read_text(encoding="ascii").strip()
    except OSError:
        # Not set up yet: the connection error will say to run `make db`.
        password = ""  # nosec B105
    auth = f"{role}:{password}" if password else role
    return f"postgresql+psycopg://{auth}@127.0.0.1:{LOCAL_PG_PORT}/gridgis"


def database_url() -> str:
    """The database the app (and every command but migrations) connects to."""
    url = os.environ.get("DATABASE_URL") or _local_url("gridgis", "db-app.password")
    return normalise_database_url(url)


def owner_database_url() -> str:
    """The database as the schema's owner, for migrations.

    ``DATABASE_OWNER_URL``; else, when ``DATABASE_URL`` is set, that (a
    deployment that runs everything as one role, which gridgis serve refuses
    if it is privileged); else the local cluster's owner role.
    """
    url = os.environ.get("DATABASE_OWNER_URL") or (
        os.environ.get("DATABASE_URL") or _local_url("gridgis_owner", "db-owner.password")
    )
    return normalise_database_url(url)


def read_database_url() -> str:
    """A hot standby that serves the web app's reads, or "" (everything on the primary)."""
    url = os.environ.get("GRIDGIS_READ_DATABASE_URL", "").strip()
    return normalise_database_url(url) if url else ""


def _flag(value: str | None) -> bool | None:
    """'1'/'true'/'yes'/'on' → True, '0'/'false'/'no'/'off' → False, unset → None."""
    if value is None or not value.strip():
        return None
    return value.strip().lower() not in ("0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """Application settings. ``from_env`` is the only place env vars are read."""

    database_url: str = ""
    #: A hot standby of ``database_url`` for routing, layer, tile and report reads
    #: ("": none, every read on the primary). See docs/deployment.md, "Read replica".
    read_database_url: str = ""
    #: Longest wait, in milliseconds, for the standby to replay the routing data the
    #: primary has (its routing epoch) before a request reads from the primary instead.
    replica_wait_ms: int = 200
    host: str = "127.0.0.1"
    port: int = 5000
    #: Base layer: ``none`` (default; intranets and tests), ``xyz`` or ``tianditu``.
    tiles: str = "none"
    tile_url: str = ""
    tile_attribution: str = ""
    tianditu_key: str = ""
    default_language: str = "zh"
    #: The zone people read times in (``gridgis.clock``).
    timezone: str = "Asia/Shanghai"
    #: Largest request body accepted (batch uploads), in megabytes.
    max_upload_mb: int = 20
    #: Cookies only over HTTPS. None: yes when the public URL is https, else unless
    #: serving on localhost (``web.security.keys.secure_cookies``).
    secure_cookies: bool | None = None
    secret_key: str = field(default="", repr=False)
    #: The address users reach the app at (``https://grid.example.gov.cn``): links
    #: are built for it, and https there means Secure cookies and HSTS.
    public_url: str = ""
    #: Reverse proxies in front of the app whose X-Forwarded-* headers are trusted.
    trusted_proxies: int = 0
    #: Most rows one batch routing request may hold.
    max_batch_rows: int = 100_000
    #: The office's hours, for deadlines in working time (gridgis.incidents.deadlines).
    working_hours: str = "09:00-12:00,13:30-17:30"
    #: How near in metres and hours an open incident of the same category is a duplicate.
    duplicate_radius_m: float = 50.0
    duplicate_hours: float = 72.0
    #: Where incident notifications go: ``name=URL`` entries (gridgis.incidents.outbox).
    webhooks: str = ""
    #: Seconds between two runs of the worker's deadline job (督办).
    deadline_check_seconds: float = 60.0
    #: Where photos of incidents are kept (default: var/media of the checkout).
    media_dir: str = ""
    #: Largest photo accepted, in megabytes.
    max_photo_mb: int = 10
    #: Days between visits (四访) per care flag: ``flag=days`` entries (gridgis.staff.visits).
    visit_intervals: str = DEFAULT_VISIT_INTERVALS

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=database_url(),
            read_database_url=read_database_url(),
            replica_wait_ms=int(env.get("GRIDGIS_REPLICA_WAIT_MS", "200")),
            host=env.get("GRIDGIS_HOST", "127.0.0.1"),
            port=int(env.get("GRIDGIS_PORT", "5000")),
            tiles=env.get("GRIDGIS_TILES", "none"),
            tile_url=env.get("GRIDGIS_TILE_URL", ""),
            tile_attribution=env.get("GRIDGIS_TILE_ATTRIBUTION", ""),
            tianditu_key=env.get("GRIDGIS_TIANDITU_KEY", ""),
            default_language=env.get("GRIDGIS_LANGUAGE", "zh"),
            timezone=env.get("GRIDGIS_TIMEZONE", "Asia/Shanghai"),
            max_upload_mb=int(env.get("GRIDGIS_MAX_UPLOAD_MB", "20")),
            secure_cookies=_flag(env.get("GRIDGIS_SECURE_COOKIES")),
            secret_key=env.get("GRIDGIS_SECRET_KEY", ""),
            public_url=env.get("GRIDGIS_PUBLIC_URL", ""),
            trusted_proxies=int(env.get("GRIDGIS_TRUSTED_PROXIES", "0")),
            max_batch_rows=int(env.get("GRIDGIS_MAX_BATCH_ROWS", "100000")),
            working_hours=env.get("GRIDGIS_WORKING_HOURS", "09:00-12:00,13:30-17:30"),
            duplicate_radius_m=float(env.get("GRIDGIS_DUPLICATE_RADIUS_M", "50")),
            duplicate_hours=float(env.get("GRIDGIS_DUPLICATE_HOURS", "72")),
            webhooks=env.get("GRIDGIS_WEBHOOKS", ""),
            deadline_check_seconds=float(env.get("GRIDGIS_DEADLINE_CHECK_SECONDS", "60")),
            media_dir=env.get("GRIDGIS_MEDIA_DIR", ""),
            max_photo_mb=int(env.get("GRIDGIS_MAX_PHOTO_MB", "10")),
            visit_intervals=env.get("GRIDGIS_VISIT_INTERVALS", DEFAULT_VISIT_INTERVALS),
        )
