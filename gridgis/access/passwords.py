"""Password hashing (argon2id, older scrypt hashes still read) and policy.

New hashes are argon2id at OWASP's parameters. Hashes made by earlier
versions (``scrypt$...``) still verify, and :func:`needs_rehash` tells the
login to replace them with argon2id once the password is known again (at the
next successful login). The policy refuses short passwords and those found in
the lists of common and breached passwords that ``zxcvbn`` ships.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import threading
from typing import Any

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn  # type: ignore[import-untyped]

from gridgis.errors import N_, InvalidInput

MIN_PASSWORD_LENGTH = 12
#: Longer passwords are refused: hashing megabytes per attempt is a cheap denial of service.
MAX_PASSWORD_LENGTH = 1024
#: zxcvbn's score (0-4) a password needs: 3 means at least 10^8 guesses even for an
#: attacker who tries the common lists, names and words first, with l33t, years, repeats.
MIN_STRENGTH = 3
#: zxcvbn refuses longer input (its matching is quadratic): the start of a text is
#: judged, which is where a common password would be anyway.
JUDGED_LENGTH = 72

TOO_SHORT = N_("The password is too short: use at least 12 characters.")
TOO_LONG = N_("The password is too long: use at most 1024 characters.")
ONLY_DIGITS = N_("The password cannot be only digits: mix in letters or other characters.")
SAME_AS_USERNAME = N_("The password cannot be the same as the username.")
TOO_COMMON = N_(
    "This password is too easy to guess: it is, or is built from, a common or leaked "
    "password, a name or a word. Use a passphrase of four or more unrelated words, or a "
    "long random password from a password manager."
)

# argon2id at OWASP's first recommendation (Password Storage Cheat Sheet): 19 MiB of
# memory, 2 passes, 1 lane. About 25 ms here; the memory makes guessing on GPUs costly.
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_PARALLELISM = 1
_hasher = PasswordHasher(
    time_cost=ARGON2_TIME_COST,
    memory_cost=ARGON2_MEMORY_KIB,
    parallelism=ARGON2_PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)
#: A stored hash asking for more than this (memory, KiB) is treated as corrupt, not computed.
_MAX_ARGON2_MEMORY_KIB = 1024 * 1024
#: The same guard for the scrypt hashes of earlier versions.
_MAX_SCRYPT_N = 2**20
# zxcvbn keeps the user inputs of a call in a module-level dictionary: one call at a time.
_zxcvbn_lock = threading.Lock()


def hash_password(password: str) -> str:
    """Hash a password with argon2id and a fresh random salt.

    Returns:
        ``$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>``: the parameters travel
        with the hash, so they can be raised later without breaking old hashes.
    """
    return _hasher.hash(password)


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (argon2id, or an older scrypt hash).

    False for a wrong password and for a malformed or unknown kind of hash.
    """
    if stored.startswith("$argon2"):
        try:
            if extract_parameters(stored).memory_cost > _MAX_ARGON2_MEMORY_KIB:
                return False
            return _hasher.verify(stored, password)
        except (InvalidHashError, VerificationError, ValueError):
            return False
    return _verify_scrypt(password, stored)


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` is not argon2id at today's parameters (replace it at login)."""
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return _hasher.check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


def validate_password(username: str, password: str) -> None:
    """Refuse passwords that are short, common or leaked, all digits, or the username.

    Common and leaked passwords are found offline by ``zxcvbn``: it ships
    frequency lists (30,000 passwords of breached password dumps, English
    words, names, TV and film words) and keyboard patterns, and it sees
    through the usual disguises (``P@ssw0rd2024``). Offline matters: the
    servers run on government intranets, and a password must never be sent
    to a third-party service to be checked.

    Raises:
        InvalidInput: With what is wrong and what to do instead.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(TOO_SHORT)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(TOO_LONG)
    if password.isdigit():
        raise InvalidInput(ONLY_DIGITS)
    if password.strip().casefold() == username.strip().casefold():
        raise InvalidInput(SAME_AS_USERNAME)
    judged = _judge(password, [username])
    if judged["score"] < MIN_STRENGTH:
        hints = [judged["feedback"]["warning"], *judged["feedback"]["suggestions"]]
        raise InvalidInput(TOO_COMMON, details=[h for h in hints if h])


def guesses_log10(text: str) -> float:
    """How many guesses (log10) ``text`` would take an attacker who knows the usual patterns.

    zxcvbn's estimate: common and leaked passwords, words and names, repeats,
    sequences and keyboard runs are cheap; random characters cost their full
    alphabet per character. Only the first 72 characters are judged.
    """
    return float(_judge(text, [])["guesses_log10"])


@functools.cache
def dummy_hash() -> str:
    """A hash to check against when there is no real one to check, made on first use.

    An unknown username, a disabled account and a throttled attempt all cost
    one argon2id check, like a wrong password, so the time taken does not tell.
    """
    return hash_password(secrets.token_urlsafe(16))


def _verify_scrypt(password: str, stored: str) -> bool:
    """``scrypt$N$r$p$<salt base64>$<hash base64>``, as versions before argon2id stored."""
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
    actual = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n_,
        r=r_,
        p=p_,
        dklen=len(expected),
        maxmem=256 * r_ * n_ + 1024 * 1024,
    )
    return hmac.compare_digest(actual, expected)


def _judge(text: str, user_inputs: list[str]) -> dict[str, Any]:
    with _zxcvbn_lock:
        return zxcvbn(text[:JUDGED_LENGTH], user_inputs=user_inputs)  # type: ignore[no-any-return]
