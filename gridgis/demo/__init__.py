"""Demo: the demo community 南湖社区 (Wuhan), generated and loaded.

Owns the seeded generator of the files in ``data/shapes``
(:mod:`~gridgis.demo.generate`, with its geometry helpers in
:mod:`~gridgis.demo.geometry`, the households and their visits in
:mod:`~gridgis.demo.households` and the rounds in :mod:`~gridgis.demo.rounds`)
and loading them, with a demo administrator
(:mod:`~gridgis.demo.loader`). Nothing else depends on it.
"""
