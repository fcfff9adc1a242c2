"""Whose rate-limit budget a request spends, so that no client can multiply its budget.

Budgets are kept per API key, per logged-in account, else per address. A key
gets a budget of its own only once this process has seen it verified: a key
that has not passed (made up, mistyped, revoked) spends its address's budget,
like an anonymous request. Without that, every made-up key would open a fresh
budget and cost a database lookup; with it, a thousand made-up keys from one
address hit that address's limit after as many lookups as the limit allows,
and the rest are refused before any lookup. (Budgets are per endpoint, but
:mod:`web.limits` also counts the requests with unverified keys across the
whole API per address, so spreading made-up keys over endpoints buys nothing.)

A verified key is remembered for :data:`VERIFIED_FOR` after its last
successful request, per process (as the counters are); its first request
after that spends its address's budget once more. The address is
``request.remote_addr``: the client's own behind a trusted reverse proxy
(``GRIDGIS_TRUSTED_PROXIES``, see docs/deployment.md).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from flask import Flask, current_app, g, session
from werkzeug.wrappers import Response

from gridgis import clock
from gridgis.access.permissions import Principal
from web.security.principals import client_address, presented_api_key

#: How long a key stays verified after its last successful request, in seconds.
VERIFIED_FOR = 600.0
#: The most keys remembered per process (each app has a handful; the oldest go first).
MAX_VERIFIED = 10_000
_EXTENSION = "gridgis_verified_keys"


class VerifiedKeys:
    """Digests of API keys verified lately, each until ``ttl`` seconds after its last use."""

    def __init__(self, ttl: float = VERIFIED_FOR, size: int = MAX_VERIFIED) -> None:
        self._ttl = ttl
        self._size = size
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn's threads share a process

    def add(self, digest: str) -> None:
        with self._lock:
            self._seen[digest] = clock.timestamp()
            self._seen.move_to_end(digest)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)

    def __contains__(self, digest: object) -> bool:
        with self._lock:
            seen = self._seen.get(str(digest))
            if seen is None:
                return False
            if clock.timestamp() - seen > self._ttl:
                del self._seen[str(digest)]
                return False
            return True


def key_digest(key: str) -> str:
    """A short digest that names a key's budget (the key itself is never kept)."""
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def client_identity() -> str:
    """Whose API budget a request spends: its verified key's, its login's, else its address's."""
    key = presented_api_key()
    if key is not None:
        digest = key_digest(key)
        if digest in _verified():
            return "key:" + digest
        return "ip:" + client_address()
    uid = session.get("uid")
    if isinstance(uid, int):
        return f"user:{uid}"
    return "ip:" + client_address()


def sends_no_unverified_key() -> bool:
    """Whether this request is free of an API key not (yet) verified in this process."""
    key = presented_api_key()
    return key is None or key_digest(key) in _verified()


def remember_verified_key(response: Response) -> Response:
    """After a request whose API key was verified, give that key a budget of its own."""
    principal = g.get("principal")
    if isinstance(principal, Principal) and principal.kind == "apikey":
        key = presented_api_key()
        if key is not None:
            _verified().add(key_digest(key))
    return response


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION] = VerifiedKeys()
    app.after_request(remember_verified_key)


def _verified() -> VerifiedKeys:
    keys: VerifiedKeys = current_app.extensions[_EXTENSION]
    return keys
