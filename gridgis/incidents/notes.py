"""Notes on an incident (处置进展/备注): a line of its history that moves nothing.

Grid staff write what they found and did between accepting an incident and
reporting it done ("物业已到场，明早清运"); dispatchers write what a call to the
resident or a department said. A note is an event of the incident's history
(:mod:`gridgis.incidents.history`), action ``note``, from and to its current
status, so it is kept, shown and never changed like every move; the history
is the incidents' audit trail, as for moves, so nothing else is written (no
outbox message either: a note is not news for anyone outside).

Who may add one: those who may act on the incident (:func:`gridgis.incidents.lifecycle.may_note`):
dispatchers and administrators on any incident they see, grid staff on their
own team's. Open incidents and closed ones (a follow-up call) take notes; a
merged incident does not: its work goes on in the incident it was merged into.

What a note leaves alone: the status, the deadlines, when the team responded
(responding is accepting, 签收), and ``updated_at``. ``updated_at`` is when the
incident's state last changed, and Open311 publishes it as ``updated_datetime``
to residents, who never see a note: a note must not say "something changed" to
them. Photos leave it alone for the same reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.permissions import Forbidden, Principal
from gridgis.errors import N_, Conflict, InvalidInput
from gridgis.incidents.history import append_event
from gridgis.incidents.lifecycle import MAX_NOTE, NOTE_PERMISSIONS, WORK, may_note
from gridgis.incidents.views import get_visible
from gridgis.models import Incident, IncidentEvent

#: A note's action in the history.
NOTE = "note"
#: A client's id for a note: a UUID fits, with room to spare.
MAX_CLIENT_ID = 64
#: Shown on the console's page too, in the user's language.
EMPTY_NOTE = N_("Write the note: it is empty.")
_CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


@dataclass(frozen=True)
class Noted:
    """A note added, or found already added under the same client id."""

    incident: Incident
    event: IncidentEvent
    created: bool


def add_note(
    session: Session,
    incident_id: int,
    text: str | None,
    *,
    actor: Principal,
    client_id: str | None = None,
) -> Noted:
    """Add a note to an incident's history (flushed; the caller's unit of work commits).

    Args:
        session: The unit of work.
        incident_id: Which incident.
        text: The note; trimmed, required, at most :data:`~gridgis.incidents.lifecycle.MAX_NOTE`
            characters.
        actor: Who writes it (their role and team decide whether they may).
        client_id: The sender's own id for this note, so that sending it again
            after a lost answer adds nothing (see below).

    Returns:
        The incident, the note's event, and whether it was added now.

    Raises:
        InvalidInput: No text, too long, or a malformed client id.
        NotFound: No such incident, or one the actor may not see (the same answer).
        Forbidden: The actor sees the incident but may not add notes to it.
        Conflict: The incident was merged into another (add the note there).
    """
    text = _checked_text(text)
    client_id = _checked_client_id(client_id)
    # Locked as a move locks it: a note is written against the status it names, and two
    # deliveries of the same note queue here, so the second finds the first's event.
    incident = get_visible(session, incident_id, actor, for_update=True)
    if not may_note(actor, incident):
        raise Forbidden(
            f"You may not add notes to incident {incident.id}: "
            + (
                # Work on it was refused, so it is the team, not the role.
                "it belongs to another grid team."
                if actor.can(WORK)
                else f"your role lacks {' or '.join(repr(p) for p in NOTE_PERMISSIONS)}."
            )
        )
    if incident.merged_into_id is not None:
        raise Conflict(
            f"Incident {incident.id} was merged into incident {incident.merged_into_id}: "
            "add the note there."
        )
    if client_id is not None:
        earlier = _sent_before(session, incident, actor, client_id)
        if earlier is not None:
            return Noted(incident, earlier, created=False)
    event = append_event(
        session,
        incident,
        actor,
        NOTE,
        incident.status,
        incident.status,
        note=text,
        data={"client_id": client_id} if client_id is not None else None,
    )
    session.expire(incident, ["events"])  # the history, read again with the note in it
    return Noted(incident, event, created=True)


def _checked_text(text: str | None) -> str:
    if text is not None and not isinstance(text, str):
        raise InvalidInput("A note is text.")
    text = (text or "").strip()
    if not text:
        raise InvalidInput(EMPTY_NOTE)
    if len(text) > MAX_NOTE:
        raise InvalidInput(
            f"A note may be at most {MAX_NOTE} characters; this one is {len(text)}. "
            "Shorten it, or add it as two notes."
        )
    return text


def _checked_client_id(client_id: str | None) -> str | None:
    if client_id is None or client_id == "":
        return None
    if (
        not isinstance(client_id, str)
        or len(client_id) > MAX_CLIENT_ID
        or not _CLIENT_ID.fullmatch(client_id)
    ):
        raise InvalidInput(
            f"A note's client_id is at most {MAX_CLIENT_ID} letters, digits and . _ : - "
            "(a UUID, for instance)."
        )
    return client_id


def _sent_before(
    session: Session, incident: Incident, actor: Principal, client_id: str
) -> IncidentEvent | None:
    """The note this actor already added to this incident under ``client_id``, if any.

    Why the client's id, kept in the event's ``data``: the phone queues a note and
    may send it again when the answer was lost on a weak network. Comparing texts
    would refuse a real second note with the same words ("已联系物业"), and a unique
    column for one kind of event would be a migration for every event; an id the
    phone made once per note, looked up among this incident's few events by the
    same actor, says exactly "this one again". Another actor's id never matches:
    nobody can mask someone else's note by guessing its id.
    """
    return session.scalar(
        sa.select(IncidentEvent)
        .where(
            IncidentEvent.incident_id == incident.id,
            IncidentEvent.action == NOTE,
            IncidentEvent.actor == actor.audit_name,
            IncidentEvent.data["client_id"].astext == client_id,
        )
        .order_by(IncidentEvent.id)
        .limit(1)
    )
