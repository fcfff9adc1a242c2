"""An incident's life (DESIGN.md, Incident life): who may move it, from where to where.

受理 received → 立案 registered (or 不予立案 rejected / 已合并 merged) → 派遣
dispatched → 处置 in progress → 核查 checked → 结案 closed; 挂账 parked for
long-term issues; reopened from checked or closed.

Dispatchers register, reject, merge, dispatch, park, resume, check (close or
send back) and reopen; the routed grid team accepts, works and reports done;
administrators may do all. Rejecting, merging, parking, sending back and
reopening need a reason. Every move is an appended event in the same
transaction; dispatching, reopening and closing also write a notification to
the outbox. The incident's row is locked for the move (``FOR UPDATE``), so of
two people moving it at once the second sees the first's result and is
refused if the move no longer applies: both cannot win. Who may act on an
incident at all (:func:`may_act`) is decided here once, for the moves and for
the notes written between them (:mod:`gridgis.incidents.notes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import Forbidden, Principal
from gridgis.errors import Conflict, InvalidInput, NotFound
from gridgis.incidents import outbox
from gridgis.incidents.history import append_event
from gridgis.models import INCIDENT_STATUS_TERMS, SATISFACTION, Incident

#: Longest reason or note kept.
MAX_NOTE = 2000


@dataclass(frozen=True)
class Transition:
    """One move: from which states, to which, by whom, and what it needs."""

    name: str
    sources: tuple[str, ...]
    target: str
    permission: str
    zh: str
    needs_reason: bool = False
    #: The topic of the outbox message it writes (None: no message).
    topic: str | None = None


def _t(*args: object, **kwargs: object) -> tuple[str, Transition]:
    transition = Transition(*args, **kwargs)  # type: ignore[arg-type]
    return transition.name, transition


DISPATCH, WORK = "incidents:dispatch", "incidents:work"
TRANSITIONS: Mapping[str, Transition] = dict(
    [
        _t("register", ("received",), "registered", DISPATCH, "立案"),
        _t("reject", ("received", "registered"), "rejected", DISPATCH, "不予立案", True),
        _t("merge", ("received", "registered"), "merged", DISPATCH, "合并", True),
        _t("dispatch", ("registered",), "dispatched", DISPATCH, "派遣", topic="dispatched"),
        _t("accept", ("dispatched",), "in_progress", WORK, "签收处置"),
        _t("report_done", ("in_progress",), "checked", WORK, "办结上报"),
        _t("send_back", ("checked",), "in_progress", DISPATCH, "退回重办", True),
        _t("close", ("checked",), "closed", DISPATCH, "结案", topic="closed"),
        _t("park", ("registered", "dispatched", "in_progress"), "parked", DISPATCH, "挂账", True),
        _t("resume", ("parked",), "registered", DISPATCH, "恢复办理"),
        _t("reopen", ("checked", "closed"), "dispatched", DISPATCH, "重新派遣", True, "reopened"),
    ]
)


#: Who may add a note (处置进展/备注, :mod:`gridgis.incidents.notes`): whoever dispatches,
#: and the routed team, as for its moves.
NOTE_PERMISSIONS = (DISPATCH, WORK)


def allowed(viewer: Principal, incident: Incident) -> list[str]:
    """The moves ``viewer`` may make on ``incident`` now (for the console's buttons)."""
    return [
        name
        for name, t in TRANSITIONS.items()
        if incident.status in t.sources and may_act(viewer, t.permission, incident)
    ]


def may_act(viewer: Principal, permission: str, incident: Incident) -> bool:
    """Whether ``viewer`` acts on ``incident`` with ``permission`` (a move's, or a note's).

    Dispatching is for any incident; working on one (``incidents:work``) is for
    the routed grid team only: grid staff act on their own team's incidents.
    Whether the viewer may *see* the incident is :func:`gridgis.incidents.views.get_visible`'s.
    """
    if not viewer.can(permission):
        return False
    if permission == WORK and viewer.scope is not None:
        return viewer.scope.team.holds(incident.grid_id, incident.building_id, incident.unit_id)
    return True


def may_note(viewer: Principal, incident: Incident) -> bool:
    """Whether ``viewer`` may add a note to ``incident`` (the console's form, the phone's)."""
    return any(may_act(viewer, p, incident) for p in NOTE_PERMISSIONS)


def move(
    session: Session,
    incident_id: int,
    action: str,
    *,
    actor: Principal,
    reason: str | None = None,
    into: int | None = None,
    satisfaction: str | None = None,
) -> Incident:
    """Make one move on an incident (flushed; the caller's unit of work commits).

    Args:
        session: The unit of work.
        incident_id: Which incident.
        action: A name from :data:`TRANSITIONS`.
        actor: Who moves it (their role and team decide whether they may).
        reason: Why (required for reject, merge, park, send_back, reopen).
        into: For ``merge``: the incident this one duplicates.
        satisfaction: For ``close``: the resident's answer at the follow-up call.

    Raises:
        NotFound: No such incident (or merge target).
        InvalidInput: Unknown move, missing reason, bad merge target or satisfaction.
        Forbidden: The actor may not make this move on this incident.
        Conflict: The incident is no longer in a state this move applies to.
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise InvalidInput(f"Unknown action {action!r}; the actions are {', '.join(TRANSITIONS)}.")
    reason = (reason or "").strip()[:MAX_NOTE] or None
    if transition.needs_reason and not reason:
        raise InvalidInput(f"Say why ({transition.zh}): a reason is required to {action}.")
    # The lock: a concurrent move waits here, then sees this one's result. Read again
    # (populate_existing) even when the caller loaded it before: its status then may be stale.
    incident = session.scalar(
        sa.select(Incident)
        .where(Incident.id == incident_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if incident is None:
        raise NotFound(f"No incident {incident_id}.")
    if not may_act(actor, transition.permission, incident):
        raise Forbidden(
            f"You may not {action} incident {incident.id}: "
            + (
                "it belongs to another grid team."
                if actor.can(transition.permission)
                else f"your role lacks {transition.permission!r}."
            )
        )
    if incident.status not in transition.sources:
        state = INCIDENT_STATUS_TERMS[incident.status]
        raise Conflict(
            f"Incident {incident.id} is {state.en.lower()} ({state.zh}); '{action}' applies "
            f"only to incidents that are {' or '.join(transition.sources)}."
        )
    now = clock.now()
    before = incident.status
    data: dict[str, object] = {}
    target = None
    if action == "merge":
        target = _merge_target(session, incident, into)
        incident.merged_into_id = target.id
        data["into"] = target.id
    if action == "accept" and incident.responded_at is None:
        incident.responded_at = now
    if action == "report_done":
        incident.resolved_at = now
    if action == "close":
        if satisfaction is not None and satisfaction not in SATISFACTION:
            raise InvalidInput(
                f"Satisfaction must be one of {', '.join(SATISFACTION)}; got {satisfaction!r}."
            )
        incident.closed_at = now
        incident.satisfaction = satisfaction
        data["satisfaction"] = satisfaction
    if action in ("reopen", "send_back"):
        incident.resolved_at = None
        incident.closed_at = None
    if action in ("register", "dispatch") and actor.role == "dispatcher":
        incident.handled_by_id = actor.user_id
    incident.status = transition.target
    incident.updated_at = now
    session.flush()
    append_event(
        session, incident, actor, action, before, transition.target, note=reason, data=data or None
    )
    if target is not None:
        # The incident merged into keeps its history, and gains this line in it.
        append_event(
            session,
            target,
            actor,
            "merged_in",
            target.status,
            target.status,
            note=reason,
            data={"from": incident.id},
        )
    if transition.topic is not None:
        outbox.notify(session, transition.topic, message_about(incident, action))
    return incident


def _merge_target(session: Session, incident: Incident, into: int | None) -> Incident:
    if into is None:
        raise InvalidInput("Say which incident this one duplicates (into=ID).")
    if into == incident.id:
        raise InvalidInput("An incident cannot be merged into itself.")
    target = session.scalar(
        sa.select(Incident)
        .where(Incident.id == into)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if target is None:
        raise NotFound(f"No incident {into} to merge into.")
    if target.status in ("merged", "rejected"):
        raise Conflict(f"Incident {into} is {target.status}; merge into an incident still open.")
    return target


def message_about(incident: Incident, action: str) -> dict[str, object]:
    """A notification's payload: the incident by id and place, never a resident."""
    routing = incident.routing or {}
    return {
        "incident": incident.id,
        "action": action,
        "status": incident.status,
        "channel": incident.channel,
        "category_id": incident.category_id,
        "community": routing.get("community_code"),
        "grid": routing.get("grid_code"),
        "building": routing.get("building_code"),
        "address": incident.address,
        "resolution_due_at": incident.resolution_due_at.isoformat()
        if incident.resolution_due_at
        else None,
        "at": clock.now().isoformat(),
    }
