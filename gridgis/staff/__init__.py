"""Staff: the "1+1+1+N" teams of grids, buildings and units.

Owns the team of a place and who covers for whom when someone is off duty
(:mod:`~gridgis.staff.team`), and the roster of a community as one viewer may
see it (:mod:`~gridgis.staff.roster`). Households, visits, rounds and reports
will live here too.
"""

from gridgis.staff.roster import TeamIndex, team_index
from gridgis.staff.team import TeamMember, assemble_team

__all__ = ["TeamIndex", "TeamMember", "assemble_team", "team_index"]
