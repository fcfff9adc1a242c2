"""gridgis: GIS service for community grid governance (社区网格化治理).

The package is the domain: models, database access, geometry helpers, shape
import/export, map building and the command line. It never imports Flask; the
web application lives in the sibling package ``web``.
"""

__version__ = "0.1.0"
