"""One error hierarchy for the whole domain.

Every error carries an HTTP status and a message that is safe to show a user
(no SQL, no stack, no personal data). The web layer renders them as JSON or
HTML; the CLI prints the message and exits non-zero.
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for the translation catalogs without translating it here.

    The domain speaks English; ``web`` translates what it shows
    (``make messages`` finds every ``N_("...")``, ``_("...")`` and
    ``gettext("...")`` in gridgis/ and web/).
    """
    return message


#: Problem lines shown in one error; the rest are counted.
MAX_DETAILS = 100


def capped(details: list[str], limit: int = MAX_DETAILS) -> list[str]:
    """At most ``limit`` problem lines, then how many more there are."""
    if len(details) <= limit:
        return details
    return [*details[:limit], f"... and {len(details) - limit} more"]


class GridgisError(Exception):
    """Base error: ``user_msg`` is safe to show, ``http_status`` says how bad."""

    http_status = 500
    #: Whether the unit of work still commits what was written before this
    #: error (a failed login's count and audit entry); most errors roll back.
    keeps_writes = False

    def __init__(self, user_msg: str, *, details: list[str] | None = None) -> None:
        super().__init__(user_msg)
        self.user_msg = user_msg
        #: Further lines a user can act on (e.g. one per bad feature).
        self.details: list[str] = list(details or [])

    def __str__(self) -> str:
        if not self.details:
            return self.user_msg
        return self.user_msg + "\n" + "\n".join(f"  - {d}" for d in self.details)


class InvalidInput(GridgisError):
    """A value given by the user is malformed or out of range."""

    http_status = 400


class InvalidFile(InvalidInput):
    """A file cannot be read, or its contents are not what the layer needs."""


class InvalidGeometry(InvalidInput):
    """One or more geometries are invalid (self-intersecting, empty, ...)."""


class NotFound(GridgisError):
    http_status = 404


class MethodNotAllowed(GridgisError):
    http_status = 405


class Conflict(GridgisError):
    http_status = 409


class OutsideCoverage(GridgisError):
    """A place outside every community gridgis covers (nobody's to act on)."""

    http_status = 422


class DatabaseUnavailable(GridgisError):
    http_status = 503
