"""API keys of machine clients (the 12345 hotline bridge, Open311 clients ...).

A key reads ``ggk_<prefix>_<secret>``: the 8-character prefix finds the row
and is shown in listings; the whole key is shown once, when it is made, and
only its SHA-256 is stored. A key grants exactly its scopes (``API_SCOPES``)
and nothing else; a revoked key is refused from then on. Every refused key is
audited by its prefix only, never the key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import audit, clock
from gridgis.access.logins import AuthenticationFailed
from gridgis.access.permissions import ANONYMOUS, API_SCOPES, Principal
from gridgis.audit import Actor
from gridgis.errors import N_, Conflict, InvalidInput, NotFound
from gridgis.models import ApiKey

log = logging.getLogger(__name__)

KEY_TAG = "ggk_"
PREFIX_LENGTH = 8
#: Bytes of randomness in the secret part (43 URL-safe characters).
SECRET_BYTES = 32
MAX_NAME_LENGTH = 100
INVALID_KEY = N_("Invalid or revoked API key.")


def create_key(
    session: Session, name: str, scopes: list[str], *, actor: Actor
) -> tuple[ApiKey, str]:
    """Make a key with ``scopes`` (audited; flushed, the caller commits).

    Returns:
        The stored row and the key itself, which exists nowhere else: show it
        once and forget it.

    Raises:
        InvalidInput: An empty or overlong name, no scope, or an unknown scope.
        Conflict: A key (revoked ones included) already has this name.
    """
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"An API key needs a name of 1 to {MAX_NAME_LENGTH} characters.")
    wanted = list(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    if not wanted:
        raise InvalidInput(f"Give the key at least one scope: {', '.join(API_SCOPES)}.")
    unknown = [s for s in wanted if s not in API_SCOPES]
    if unknown:
        raise InvalidInput(
            f"Unknown scope{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"an API key may have {', '.join(API_SCOPES)}."
        )
    if session.scalar(sa.select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(
            f"An API key named {name!r} exists already (revoked keys keep their name); "
            "choose another name."
        )
    while True:
        prefix = secrets.token_urlsafe(6)[:PREFIX_LENGTH]
        if session.scalar(sa.select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            break
    key = f"{KEY_TAG}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    row = ApiKey(name=name, prefix=prefix, key_hash=_hash(key), scopes=wanted)
    session.add(row)
    session.flush()
    audit.record(
        session, actor, "create", "api_key", name, after={"prefix": prefix, "scopes": wanted}
    )
    log.info("API key %s created (scopes %s)", name, ",".join(wanted))
    return row, key


#: ``last_used_at`` is refreshed when older than this.
LAST_USED_GRAIN = dt.timedelta(minutes=1)


def verify_key(session: Session, key: str, *, source: str = "unknown") -> ApiKey:
    """The key's row, its ``last_used_at`` refreshed (flushed; the caller commits).

    Args:
        session: The request's unit of work.
        key: The key as presented.
        source: Where the request came from (the client's address), for the audit log.

    Raises:
        AuthenticationFailed: The key is malformed, unknown or revoked (one
            message for all three). The refusal is audited first, by the
            key's prefix (never the key), and the entry is kept.
    """
    prefix = _prefix_of(key)
    row = None
    if prefix is not None:
        row = session.scalar(sa.select(ApiKey).where(ApiKey.prefix == prefix))
    # Compare even when nothing was found, so timing does not tell a known prefix.
    matches = hmac.compare_digest(_hash(key), row.key_hash if row else _hash(""))
    if row is None or not matches or row.revoked_at is not None:
        if prefix is None:
            reason = "malformed"
        elif row is None:
            reason = "unknown prefix"
        else:
            reason = "wrong secret" if not matches else "revoked"
        # The prefix only, never the key: it is not secret and helps find a misconfigured client.
        log.info("refused API key with prefix %s (%s)", prefix or "(malformed)", reason)
        audit.record(
            session,
            ANONYMOUS,
            "api_key_refused",
            "api_key",
            row.name if row is not None else None,
            after={"prefix": prefix, "reason": reason},
            note=f"from {source}",
        )
        raise AuthenticationFailed(INVALID_KEY)
    now = clock.now()
    # At most one write a minute per key: a hotline system sends many requests
    # a second, and "last used" needs no finer grain than that.
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_GRAIN:
        row.last_used_at = now
        session.flush()
    return row


def revoke_key(session: Session, name: str, *, actor: Actor) -> ApiKey:
    """Revoke a key for good (audited).

    Raises:
        NotFound: No key has this name.
        Conflict: It is revoked already.
    """
    row = get_key(session, name)
    if row.revoked_at is not None:
        raise Conflict(f"The API key {name!r} was revoked already, on {row.revoked_at:%Y-%m-%d}.")
    row.revoked_at = clock.now()
    session.flush()
    audit.record(
        session,
        actor,
        "revoke",
        "api_key",
        name,
        before={"revoked_at": None},
        after={"revoked_at": row.revoked_at},
    )
    log.info("API key %s revoked", name)
    return row


def get_key(session: Session, name: str) -> ApiKey:
    """The key named ``name``.

    Raises:
        NotFound: No such key.
    """
    row = session.scalar(sa.select(ApiKey).where(ApiKey.name == name))
    if row is None:
        raise NotFound(f"No API key named {name!r} (see `gridgis apikey list`).")
    return row


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return list(session.scalars(sa.select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def principal_for_key(key: ApiKey) -> Principal:
    """What a key may do: exactly its scopes."""
    return Principal(kind="apikey", name=key.name, permissions=frozenset(key.scopes))


def display_prefix(key: ApiKey) -> str:
    """How listings show a key: its tag and prefix, enough to recognise it."""
    return f"{KEY_TAG}{key.prefix}_…"


def _prefix_of(key: str) -> str | None:
    # Fixed positions, not split("_"): the prefix and secret may contain "_".
    if (
        len(key) < len(KEY_TAG) + PREFIX_LENGTH + 1 + 32
        or len(key) > 200
        or not key.startswith(KEY_TAG)
        or key[len(KEY_TAG) + PREFIX_LENGTH] != "_"
    ):
        return None
    return key[len(KEY_TAG) : len(KEY_TAG) + PREFIX_LENGTH]


def _hash(key: str) -> str:
    # A fast hash is right here, unlike for passwords: the key is 256 random
    # bits, so there is nothing to guess offline, and it is checked on every
    # API request, where scrypt's deliberate slowness would only cost us.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()
