"""Maps: what the map pages and the layer API draw.

Owns the GeoJSON views of a community's layers and its summary
(:mod:`~gridgis.maps.features`), the folium map of a community
(:mod:`~gridgis.maps.community`) drawn with assets the app serves itself
(:mod:`~gridgis.maps.offline`), and its popups, colours and legend
(:mod:`~gridgis.maps.popups`). Vector tiles will live here too.
"""
