"""Incidents (事件/诉求): intake from every channel, their life, deadlines and notifications.

Owns taking a report in — located, routed, its routing snapshot kept
(:mod:`~gridgis.incidents.intake`, one at a time or in batches, with the
checks and rows shared in :mod:`~gridgis.incidents.reports`); the 12345
hotline's work-order exports (:mod:`~gridgis.incidents.hotline`, with the
classification table in :mod:`~gridgis.incidents.mapping`); its life, who may
move it and how (:mod:`~gridgis.incidents.lifecycle`), as appended events
(:mod:`~gridgis.incidents.history`), and notes on it without a move
(:mod:`~gridgis.incidents.notes`); nearby duplicates
(:mod:`~gridgis.incidents.duplicates`); deadlines in working time on the
official calendar (:mod:`~gridgis.incidents.deadlines`), when one is
breached (:mod:`~gridgis.incidents.breaches`) and 督办 of those breached
(:mod:`~gridgis.incidents.escalation`); what one viewer may see of them
(:mod:`~gridgis.incidents.views`), in lists with shared filters
(:mod:`~gridgis.incidents.queries`), on a map at any density
(:mod:`~gridgis.incidents.clusters`), and before saving
(:mod:`~gridgis.incidents.preview`); photos (:mod:`~gridgis.incidents.photos`,
files under :mod:`~gridgis.incidents.media`); Open311 GeoReport v2
(:mod:`~gridgis.incidents.open311`, :mod:`~gridgis.incidents.open311_requests`);
the three rates (:mod:`~gridgis.incidents.rates` over
:mod:`~gridgis.incidents.periods`); and notifications: the outbox
(:mod:`~gridgis.incidents.outbox`), its delivery to webhooks
(:mod:`~gridgis.incidents.delivery`, :mod:`~gridgis.incidents.webhooks`) by
the worker (:mod:`~gridgis.incidents.worker`). Framework-free: the web app,
Open311 and the command line call these.
"""

from __future__ import annotations

from gridgis.config import Settings
from gridgis.incidents import deadlines, duplicates, outbox


def configure(settings: Settings) -> None:
    """Hand the incident settings to their modules: office hours, duplicates, webhooks.

    The web app and the command line call it at start (a bad value stops the start).
    """
    deadlines.configure(settings.working_hours)
    duplicates.configure(settings.duplicate_radius_m, settings.duplicate_hours)
    outbox.configure(outbox.parse_receivers(settings.webhooks))
