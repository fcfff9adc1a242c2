"""The secret key that signs session cookies, and whether cookies need HTTPS.

A key given in ``GRIDGIS_SECRET_KEY`` must be strong (:func:`check_secret_key`):
whoever can guess it can sign a cookie, and with it a CSRF token and a login
pepper. Unset, a strong key is generated once into ``var/secret_key`` (mode 600).
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from gridgis.access.passwords import JUDGED_LENGTH, guesses_log10
from gridgis.config import PROJECT_ROOT, Settings
from gridgis.errors import GridgisError

logger = logging.getLogger(__name__)

#: Where the generated secret key is kept when GRIDGIS_SECRET_KEY is unset.
SECRET_KEY_FILE = PROJECT_ROOT / "var" / "secret_key"
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: A key shorter than this is refused ...
MIN_SECRET_KEY_LENGTH = 32
#: ... and so is one with words, names, repeats, sequences or keyboard runs in it.
#: zxcvbn counts a random character as 10 guesses and finds the patterns: random
#: hex or base64 scores 0.9 to 1.0 digit per character (measured: 300 keys each of
#: token_hex(16), token_hex(32), token_urlsafe(32), never below 0.91), a passphrase
#: of real words 0.75 to 0.8, a repeat or a keyboard run far less.
MIN_GUESS_DIGITS_PER_CHARACTER = 0.85
MAKE_ONE = "python -c 'import secrets; print(secrets.token_hex(32))'"


def check_secret_key(key: str, origin: str = "GRIDGIS_SECRET_KEY") -> str:
    """``key`` if it is strong enough to sign cookies, else a GridgisError saying what to do.

    Args:
        key: The key.
        origin: Where it came from, named in the message (the variable or the file).
    """
    problem = None
    if len(key) < MIN_SECRET_KEY_LENGTH:
        problem = f"is too short ({len(key)} characters; at least {MIN_SECRET_KEY_LENGTH})"
    elif guesses_log10(key) < MIN_GUESS_DIGITS_PER_CHARACTER * min(len(key), JUDGED_LENGTH):
        problem = "is not random enough (it has words, repeats or a pattern in it)"
    if problem is not None:
        raise GridgisError(
            f"{origin} {problem}: whoever guesses it can forge logins. Set it to 64 random "
            f"hex characters, made with `{MAKE_ONE}`, or unset it to have one generated "
            f"in {SECRET_KEY_FILE.relative_to(PROJECT_ROOT)}."
        )
    return key


def secret_key(settings: Settings, path: Path = SECRET_KEY_FILE) -> str:
    """GRIDGIS_SECRET_KEY (if strong), else a key generated once and kept in ``path`` (mode 600).

    Kept, not generated per start, so that restarts (and every gunicorn
    worker) accept the same session cookies.

    Raises:
        GridgisError: The key given, or the one in ``path``, is weak.
    """
    if settings.secret_key:
        return check_secret_key(settings.secret_key)
    try:
        return check_secret_key(_read_key(path), str(path))
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        # O_EXCL with mode 600: created readable by the server's user only, whatever
        # the umask, and never overwriting a key another worker wrote first.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return check_secret_key(_read_key(path), str(path))  # another worker was first
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
    """Whether session cookies carry the Secure flag (sent back over HTTPS only).

    Always when the public URL (GRIDGIS_PUBLIC_URL) is https. Else
    GRIDGIS_SECURE_COOKIES when set; else not when the public URL is http
    (users reach the app without TLS: Secure cookies would never come back);
    else yes unless we serve on localhost (``make run`` serves http://127.0.0.1).
    """
    scheme = urlsplit(settings.public_url).scheme.lower()
    if scheme == "https":
        return True
    if settings.secure_cookies is not None:
        return settings.secure_cookies
    if scheme == "http":
        return False
    return settings.host not in _LOCAL_HOSTS
