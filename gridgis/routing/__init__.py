"""Routing: where an incident belongs, and who must act on it (DESIGN.md, Routing).

Owns the routing statement (:mod:`~gridgis.routing.sql`), routing points one
at a time or in batches (:mod:`~gridgis.routing.points`), the in-memory index
that answers large batches as the database would (:mod:`~gridgis.routing.cache`),
results and their explanations (:mod:`~gridgis.routing.results`), routing by a
typed address (:mod:`~gridgis.routing.addresses`) and routing every row of a
file (:mod:`~gridgis.routing.files`). Batches can also be routed column-wise
(:mod:`~gridgis.routing.columns`: an Arrow table, no object per point, with
:mod:`~gridgis.routing.gaps` and :mod:`~gridgis.routing.distinct`), which is
how ``gridgis route`` reads, routes and writes files
(:mod:`~gridgis.routing.tabular`, :mod:`~gridgis.routing.writers`).

Public surface: :func:`~gridgis.routing.points.route_point`,
:func:`~gridgis.routing.points.route_points`,
:func:`~gridgis.routing.addresses.route_address`,
:func:`~gridgis.routing.columns.route_columns`,
:class:`~gridgis.routing.results.RoutingResult` and the file functions.
"""
