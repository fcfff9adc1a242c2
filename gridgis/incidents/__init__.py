"""Incidents (事件/诉求): intake from every channel, their life, deadlines and notifications.

Owns taking a report in — located, routed, its routing snapshot kept
(:mod:`~gridgis.incidents.intake`); its life, who may move it and how
(:mod:`~gridgis.incidents.lifecycle`), as appended events
(:mod:`~gridgis.incidents.history`); nearby duplicates
(:mod:`~gridgis.incidents.duplicates`); deadlines in working time on the
official calendar (:mod:`~gridgis.incidents.deadlines`); what one viewer may
see of them (:mod:`~gridgis.incidents.views`); and the outbox of
notifications (:mod:`~gridgis.incidents.outbox`). Framework-free: the web
app, Open311 and the command line call these.
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
