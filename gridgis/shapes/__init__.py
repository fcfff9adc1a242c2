"""Shapes: reading, validating, importing and exporting files of places and staff.

Owns reading shape files into validated GeoDataFrames in EPSG:4326
(:mod:`~gridgis.shapes.reading`), parsing field values
(:mod:`~gridgis.shapes.fields`), the all-or-nothing import of a layer
(:mod:`~gridgis.shapes.importing`, with :mod:`~gridgis.shapes.loader`,
:mod:`~gridgis.shapes.places`, :mod:`~gridgis.shapes.staff` and the PostGIS
checks of :mod:`~gridgis.shapes.checks`), exports
(:mod:`~gridgis.shapes.exporting`) and the department and category
catalogue files (:mod:`~gridgis.shapes.catalogue`).

Public surface: :func:`import_layer`, :func:`export_layer`, :func:`read_shapes`.
"""
