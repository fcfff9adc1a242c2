"""The media folder: files kept outside the database, private, and tied to a unit of work.

Photos of incidents (:mod:`gridgis.incidents.photos`) live here. Folders are
0700 and files 0600 (they show residents and their homes); a file is written to
a temporary name and renamed, so it appears whole or not at all. A file is
written after its row is flushed and belongs to the session's transaction: if
that rolls back, the file is deleted with it (:func:`delete_on_rollback`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from gridgis import clock
from gridgis.config import PROJECT_ROOT
from gridgis.errors import GridgisError

logger = logging.getLogger(__name__)

#: Files being written start with this (a crash can leave one: see old_files).
TEMP_PREFIX = ".upload-"
#: Where a session keeps the files written in its transactions and not yet committed.
_WRITTEN = "gridgis.incidents.media.written"


def media_folder(setting: str = "") -> Path:
    """The media folder: ``GRIDGIS_MEDIA_DIR``, or ``var/media`` of the checkout.

    The one place the setting is resolved. A relative path is taken from the
    checkout, as the default is, not from wherever the server was started.
    """
    if not setting.strip():
        return PROJECT_ROOT / "var" / "media"
    folder = Path(setting.strip()).expanduser()
    return folder if folder.is_absolute() else PROJECT_ROOT / folder


def _private_dir(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        # Made earlier under someone else's umask: what it holds is residents' data.
        folder.chmod(0o700)


def write_private(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``folder/name``: folders 0700, file 0600, temporary file and rename.

    ``folder`` and its parent (the media folder) are made private if they are not.

    Raises:
        GridgisError: The folder is full or not writable (the message says whom to ask).
    """
    try:
        _private_dir(folder.parent)
        _private_dir(folder)
        # mkstemp makes the file 0600 itself; the rename makes it appear whole or not at all.
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX)
    except OSError as exc:
        raise _not_stored(exc) from exc
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o600)
        target = folder / name
        os.replace(temporary, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise _not_stored(exc) from exc
    return target


def _not_stored(exc: OSError) -> GridgisError:
    # The type only: the message would name the server's paths.
    logger.error("could not write to the media folder: %s", type(exc).__name__)
    return GridgisError(
        "The file could not be stored: the media folder is full or not writable. "
        "Ask the administrator to check GRIDGIS_MEDIA_DIR."
    )


def delete_on_rollback(session: Session, path: Path) -> None:
    """Delete ``path`` unless the transaction it was written in is committed.

    A file written in a savepoint that rolls back goes with it; one whose
    savepoint was released stays until the outer transaction commits (kept) or
    ends otherwise (rolled back, or the session closed uncommitted: deleted).
    """
    written: list[tuple[Path, SessionTransaction | None]] | None = session.info.get(_WRITTEN)
    if written is None:
        written = session.info[_WRITTEN] = []
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_soft_rollback", _rolled_back)
        event.listen(session, "after_transaction_end", _ended)
    written.append((path, session.get_nested_transaction() or session.get_transaction()))


def _committed(session: Session) -> None:
    # Also called when a savepoint is released: only the outermost commit keeps the files.
    if not session.in_nested_transaction():
        session.info[_WRITTEN].clear()


def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    def within(transaction: SessionTransaction | None) -> bool:
        while transaction is not None:
            if transaction is previous:
                return True
            transaction = transaction.parent
        return False

    written = session.info[_WRITTEN]
    gone = [entry for entry in written if within(entry[1])]
    remove_files(path for path, _ in gone)
    written[:] = [entry for entry in written if entry not in gone]


def _ended(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended; a commit has emptied the list before this.
    if transaction.parent is None:
        written = session.info[_WRITTEN]
        remove_files(path for path, _ in written)
        written.clear()


def remove_files(paths: Iterable[Path]) -> None:
    """Delete files, logging (not raising) what could not be deleted."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            # Without its row nobody reaches it; the orphan sweep will try again.
            logger.warning("could not delete a media file: %s", type(exc).__name__)


def old_files(folder: Path, older_than: dt.timedelta) -> list[Path]:
    """The files of ``folder`` last written more than ``older_than`` ago."""
    if not folder.is_dir():
        return []
    cutoff = (clock.now() - older_than).timestamp()
    return [p for p in folder.iterdir() if p.is_file() and p.stat().st_mtime < cutoff]
