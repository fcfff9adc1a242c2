"""Password hashing and policy (scrypt, memory-hard), for ``gridgis.access.accounts``."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from gridgis.errors import InvalidInput

MIN_PASSWORD_LENGTH = 10
#: Longer passwords are refused: hashing megabytes per attempt is a cheap denial of service.
MAX_PASSWORD_LENGTH = 1024

# scrypt parameters: N=2**14, r=8 needs 128 * r * N = 16 MiB per hash (about
# 50 ms), which makes offline guessing of a stolen hash costly on GPUs too.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
#: A stored hash naming a larger N than this is treated as corrupt, not computed.
_MAX_SCRYPT_N = 2**20


def hash_password(password: str) -> str:
    """Hash a password with scrypt and a fresh random salt.

    Returns:
        ``scrypt$16384$8$1$<salt base64>$<hash base64>``: the parameters travel
        with the hash, so they can be raised later without breaking old hashes.
    """
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return "$".join(
        (
            "scrypt",
            str(SCRYPT_N),
            str(SCRYPT_R),
            str(SCRYPT_P),
            base64.b64encode(salt).decode("ascii"),
            base64.b64encode(digest).decode("ascii"),
        )
    )


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` hashes to ``stored``; False for a wrong or malformed hash."""
    try:
        scheme, n, r, p, salt_b64, hash_b64 = stored.split("$")
        n_, r_, p_ = int(n), int(r), int(p)
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(hash_b64, validate=True)
    except ValueError:
        return False
    if scheme != "scrypt" or not (1 < n_ <= _MAX_SCRYPT_N and 0 < r_ <= 32 and 0 < p_ <= 16):
        return False
    if not expected:
        return False
    actual = _scrypt(password, salt, n_, r_, p_, len(expected))
    return hmac.compare_digest(actual, expected)


def validate_password(username: str, password: str) -> None:
    """Refuse passwords that are too short, all digits, or the username.

    Raises:
        InvalidInput: With what is wrong and what is expected.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"The password is too short: use at least {MIN_PASSWORD_LENGTH} characters "
            f"(it has {len(password)})."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(
            f"The password is too long: use at most {MAX_PASSWORD_LENGTH} characters."
        )
    if password.isdigit():
        raise InvalidInput(
            "The password cannot be only digits: mix in letters or other characters."
        )
    if password.strip().casefold() == username.strip().casefold():
        raise InvalidInput("The password cannot be the same as the username.")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=dklen,
        maxmem=256 * r * n + 1024 * 1024,
    )


@functools.cache
def dummy_hash() -> str:
    """A hash to check against when the username is unknown, made on first use."""
    return hash_password(secrets.token_urlsafe(16))
