"""Geo: where things are, and which place applies.

Owns coordinate systems, including the Chinese web-map offsets GCJ-02 and
BD-09 (:mod:`~gridgis.geo.crs`); which layout (网格方案) applies at a time,
and publishing one (:mod:`~gridgis.geo.layouts`); which grid a building
belongs to (:mod:`~gridgis.geo.areas`); what each layer is — its fields in
files and in views (:mod:`~gridgis.geo.layers`); how a table file (CSV,
XLSX) is read, with its coordinate columns (:mod:`~gridgis.geo.tables`); and
the bbox and paging parameters of queries (:mod:`~gridgis.geo.query`).

Geo sits just above the models: it imports nothing from access, staff,
shapes, routing or maps.
"""
