"""Passwords: argon2id hashes, older scrypt hashes still read, and the policy."""

from __future__ import annotations

import hashlib
import time

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, Type
from sqlalchemy.orm import Session

from gridgis.access.accounts import change_password, create_user
from gridgis.access.passwords import (
    MIN_PASSWORD_LENGTH,
    TOO_COMMON,
    TOO_SHORT,
    hash_password,
    needs_rehash,
    validate_password,
    verify_password,
)
from gridgis.errors import InvalidInput
from gridgis.models import User
from tests.support.actors import named

PASSWORD = "correct horse battery"
ACTOR = named("cli:tester")
#: PASSWORD as gridgis stored it before argon2id (scrypt N=2**14, r=8, p=1).
SCRYPT_HASH = (
    "scrypt$16384$8$1$A4rsX6Z76dw+qDjXLf0qIw==$ZvCJxr3lpoJPluYFrNB9VZrX4CvlVS/b7Knfy3z97Kw="
)


# -- hashing -----------------------------------------------------------------


def test_new_hashes_are_argon2id_at_owasps_parameters() -> None:
    stored = hash_password(PASSWORD)
    # OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane.
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "!", stored)
    assert not needs_rehash(stored)


def test_same_password_gets_a_fresh_salt() -> None:
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


def test_older_scrypt_hashes_still_verify_and_ask_to_be_rehashed() -> None:
    assert verify_password(PASSWORD, SCRYPT_HASH)
    assert not verify_password("correct horse battery!", SCRYPT_HASH)
    assert needs_rehash(SCRYPT_HASH)


def test_weaker_argon2_parameters_ask_to_be_rehashed() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert verify_password(PASSWORD, weak)
    assert needs_rehash(weak)
    argon2i = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.I)
    assert needs_rehash(argon2i.hash(PASSWORD))


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "bcrypt$1$2$3$AAAA$AAAA",
        "scrypt$16384$8$1$!!$??",
        "scrypt$x$8$1$a$b",
        "$argon2id$v=19$m=19456,t=2,p=1$bm90IGJhc2U2NA$",
        # Asks for 4 GiB per check: refused, not computed.
        "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
        "2BfzVtUI9FLmxKY1dqxWnHDEanbOT3cy7mZBoQ1kEmg",
    ],
)
def test_malformed_hash_never_verifies(stored: str) -> None:
    started = time.perf_counter()
    assert not verify_password(PASSWORD, stored)
    assert time.perf_counter() - started < 1
    assert needs_rehash(stored)


# -- the policy --------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("bob", "short", "too short: use at least 12 characters"),
        ("bob", "Eleven-char", "too short: use at least 12 characters"),
        ("bob", "1234567890123", "cannot be only digits"),
        ("bob.smith.12", "Bob.Smith.12", "cannot be the same as the username"),
        ("bob", "x" * 1025, "too long: use at most 1024 characters"),
        # In the lists of common and breached passwords, or built from them:
        ("bob", "password1234", "too easy to guess"),
        ("bob", "Password123!", "too easy to guess"),
        ("bob", "qwertyuiop12", "too easy to guess"),
        ("bob", "iloveyou2024!", "too easy to guess"),
        ("bob", "1qaz2wsx3edc", "too easy to guess"),
        ("bob", "P@ssw0rd2024", "too easy to guess"),
        ("bob", "abcabcabcabc", "too easy to guess"),
        ("zhangwei", "zhangwei2024", "too easy to guess"),
    ],
)
def test_password_policy(username: str, password: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_password(username, password)


#: 1024 characters of hex: the longest password allowed.
LONGEST = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(16))


@pytest.mark.parametrize(
    "password",
    [PASSWORD, "Grid-test-passw0rd", "x7Gq2LmZp9Rt", "网格员张三的密码很长很长", LONGEST],
)
def test_good_passwords_pass(password: str) -> None:
    validate_password("bob", password)


def test_a_refused_password_says_what_to_do() -> None:
    assert str(MIN_PASSWORD_LENGTH) in TOO_SHORT and MIN_PASSWORD_LENGTH == 12
    with pytest.raises(InvalidInput) as info:
        validate_password("bob", "password1234")
    assert info.value.user_msg == TOO_COMMON
    assert "Use a passphrase of four or more unrelated words" in TOO_COMMON
    assert "password manager" in TOO_COMMON
    # zxcvbn's own finding and advice come as details.
    assert info.value.details[0] == "This is a very common password."


def test_password_policy_applies_on_create_and_change(db_session: Session) -> None:
    with pytest.raises(InvalidInput, match="too short"):
        create_user(db_session, "bob", "short", "viewer", actor=ACTOR)
    with pytest.raises(InvalidInput, match="too easy to guess"):
        create_user(db_session, "bob", "Password123!", "viewer", actor=ACTOR)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    bob = create_user(db_session, "bob", PASSWORD, "viewer", actor=ACTOR)
    with pytest.raises(InvalidInput, match="too easy to guess"):
        change_password(db_session, bob, PASSWORD, "letmein12345", actor=ACTOR)
    assert verify_password(PASSWORD, bob.password_hash)
