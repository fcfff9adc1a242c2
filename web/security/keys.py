"""The secret key that signs session cookies, and whether cookies need HTTPS."""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path

from gridgis.config import PROJECT_ROOT, Settings
from gridgis.errors import GridgisError

logger = logging.getLogger(__name__)

#: Where the generated secret key is kept when GRIDGIS_SECRET_KEY is unset.
SECRET_KEY_FILE = PROJECT_ROOT / "var" / "secret_key"
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def secret_key(settings: Settings, path: Path = SECRET_KEY_FILE) -> str:
    """GRIDGIS_SECRET_KEY, else a key generated once and kept in ``path`` (mode 600).

    Kept, not generated per start, so that restarts (and every gunicorn
    worker) accept the same session cookies.
    """
    if settings.secret_key and settings.secret_key != Settings().secret_key:
        return settings.secret_key
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)  # another worker was first
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    logger.info("generated a secret key in %s", path)
    return key


def _read_key(path: Path) -> str:
    for _ in range(50):
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
        time.sleep(0.01)  # being written by another worker right now
    raise GridgisError(f"{path} is empty: delete it, or set GRIDGIS_SECRET_KEY.")


def secure_cookies(settings: Settings) -> bool:
    """Cookies only over HTTPS, unless GRIDGIS_SECURE_COOKIES=0 or we serve on localhost.

    ``make run`` serves http://127.0.0.1, where secure cookies would never come back.
    """
    if settings.secure_cookies is not None:
        return settings.secure_cookies
    return settings.host not in _LOCAL_HOSTS
