"""Staff: the "1+1+1+N" teams, the households they visit and the visits they log.

Owns the team of a place and who covers for whom when someone is off duty
(:mod:`~gridgis.staff.team`), and the roster of a community as one viewer may
see it (:mod:`~gridgis.staff.roster`); households (户) and their care flags:
which a viewer's area holds and how much of them is shown
(:mod:`~gridgis.staff.residents`), the due list, a building's households and
one household with its visits (:mod:`~gridgis.staff.households`); the
visiting schedule ("四访") and a month's figures (:mod:`~gridgis.staff.visits`);
logging a visit (:mod:`~gridgis.staff.visit_log`; a follow-up becomes an
incident through :mod:`gridgis.incidents.followups`); and rounds ("四进",
:mod:`~gridgis.staff.rounds`, listed by :mod:`~gridgis.staff.round_listing`).
The monthly work report built from these lives in :mod:`gridgis.reports`.
"""

from gridgis.config import Settings
from gridgis.staff import visits
from gridgis.staff.households import (
    BuildingCounts,
    HouseholdDetail,
    HouseholdRow,
    VisitShown,
    building_counts,
    due_households,
    household_detail,
    households_of,
)
from gridgis.staff.roster import TeamIndex, team_index
from gridgis.staff.team import TeamMember, assemble_team
from gridgis.staff.visit_log import log_visit
from gridgis.staff.visits import interval_for, required_in_month

__all__ = [
    "BuildingCounts",
    "HouseholdDetail",
    "HouseholdRow",
    "TeamIndex",
    "TeamMember",
    "VisitShown",
    "assemble_team",
    "building_counts",
    "configure",
    "due_households",
    "household_detail",
    "households_of",
    "interval_for",
    "log_visit",
    "required_in_month",
    "team_index",
]


def configure(settings: Settings) -> None:
    """Hand the staff settings to their modules: the visit intervals (``GRIDGIS_VISIT_INTERVALS``).

    The web app and the command line call it at start (a bad value stops the start).
    """
    visits.configure(settings.visit_intervals)
