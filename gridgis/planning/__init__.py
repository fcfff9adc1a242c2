"""Planning: redrawing a community's grids (网格方案) before they are in force.

Owns drafts — copying the layout in force into a new draft layout with its
grid codes, names and grid teams, and the community's layouts with their
standing (:mod:`~gridgis.planning.drafts`); the tallies of any layout's grids:
households, units, buildings, staff, incidents, the household band, parts and
compactness, compounds split across grids (:mod:`~gridgis.planning.tallies`);
and the checks a layout must pass before it is published: gaps, overlaps,
buildings in no grid or cut by an edge, grids in several parts or outside
the band, duplicate and malformed codes (:mod:`~gridgis.planning.checks`);
what a layout changes against another — the buildings, units and households
that change grid and each grid's totals before and after, as JSON, CSV and
GeoJSON (:mod:`~gridgis.planning.diff`); a layout out to QGIS as a
GeoPackage of its grids, each building's grid and its edit log
(:mod:`~gridgis.planning.export`); and painting a draft: buildings moved to
another grid with the land that goes with them, so the draft still tiles
its community (:mod:`~gridgis.planning.painting`); undoing and redoing a
draft's edits, its grids put back exactly as stored, and grids locked
against changes (:mod:`~gridgis.planning.edits`, the states in
:mod:`~gridgis.planning.grid_states`); grid codes carried on
across a redraw (:mod:`~gridgis.planning.codes`); and the cut-over: what
publishing a draft changes, shown first, then done from a date
(:mod:`~gridgis.planning.publish`), and open incidents rerouted at that date
when the publisher asked for it (:mod:`~gridgis.planning.cutover`, run by
``gridgis worker``).

Nothing here changes routing until a draft is published: drafts are never in
force, and :mod:`~gridgis.planning.publish` publishes through
:func:`gridgis.geo.layouts.publish_layout`, the one home of the period rule. Which grid a
building belongs to is :mod:`gridgis.geo.areas`'s rule, used as is. Planning
sits beside reports, above incidents and staff, whose figures it counts.
Framework-free: the command line (``gridgis layout``) calls it.
"""
