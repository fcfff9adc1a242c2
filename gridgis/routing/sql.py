"""The routing statement (see gridgis.routing.points for the rules it implements)."""

from __future__ import annotations

import sqlalchemy as sa

from gridgis.geo.layouts import in_force_sql

# Metres per degree of latitude is at least 110,574 (at the equator); a degree
# of longitude is 111,320·cos(lat) at most. Dividing the tolerance by the
# smaller of the two, with 1% to spare, gives a box around the point that
# holds every polygon within the tolerance, so the index prefilter never
# drops a true candidate. The tolerance test itself compares ST_Distance (the
# distance the result reports) rather than ST_DWithin, whose spheroid shortcut
# can disagree with it in the last millimetre: a point "exactly at the
# tolerance" must be in, whatever the distance printed says.
#
# One statement text, two inputs: ``BATCH_SQL`` routes arrays of points (a
# batch sends thousands per statement and fetches the teams of the distinct
# grids, buildings and units afterwards, ``with_team`` false); ``POINT_SQL``
# routes one point from scalar parameters, team included. Scalars matter:
# PostgreSQL can keep a generic plan for them (psycopg prepares repeated
# statements), while an unnest of arrays is re-planned on every call.
# "(A) UNION ALL (B) LIMIT 1" runs B only when A finds nothing: the fallback
# costs nothing when the point is covered.
#
# Two shapes below are for the planner (measured in bench/routing.py): the
# unit's community is checked by a subselect on its building, not a join (a
# join made the planner hash every building of the community for each point),
# and the layout in force is looked up as a range containment that the
# exclusion constraint's GiST index answers.
_TEMPLATE = """
SELECT
    i.idx,
    cat.id IS NOT NULL AS category_found,
    cat.volunteer_team AS category_team,
    comm.id AS community_id, comm.code AS community_code, comm.name AS community_name,
    comm.gap_tolerance_m, comm.dist AS community_dist,
    lay.id AS layout_id, lay.name AS layout_name,
    gp.id AS grid_id, gp.code AS grid_code, gp.name AS grid_name, gp.dist AS grid_dist,
    bl.id AS building_id, bl.code AS building_code, bl.name AS building_name,
    bl.address AS address,
    un.id AS unit_id, un.number AS unit_number,
    cp.id AS compound_id, cp.name AS compound_name,
    deps.items AS departments,
    team.members AS team
FROM {input} AS i(idx, lon, lat, at, category)
CROSS JOIN LATERAL (
    SELECT ST_SetSRID(ST_MakePoint(i.lon, i.lat), 4326) AS g,
           GREATEST(LEAST(110574.0, 111320.0 * cos(radians(i.lat))), 1.0) * 0.99 AS m_per_deg
) pt
LEFT JOIN category cat ON cat.code = i.category
LEFT JOIN LATERAL (
    (SELECT c.id, c.code, c.name, c.gap_tolerance_m, 0.0::float8 AS dist
     FROM community c
     WHERE ST_Covers(c.boundary, pt.g)
       AND (CAST(:community AS text) IS NULL OR c.code = CAST(:community AS text))
     ORDER BY ST_Area(c.boundary), c.id
     LIMIT 1)
    UNION ALL
    (SELECT c.id, c.code, c.name, c.gap_tolerance_m, d.dist
     FROM community c
     CROSS JOIN LATERAL (SELECT ST_Distance(c.boundary::geography, pt.g::geography) AS dist) d
     WHERE c.boundary && ST_Expand(pt.g, c.gap_tolerance_m / pt.m_per_deg)
       AND d.dist <= c.gap_tolerance_m
       AND (CAST(:community AS text) IS NULL OR c.code = CAST(:community AS text))
     ORDER BY d.dist, ST_Area(c.boundary), c.id
     LIMIT 1)
    LIMIT 1
) comm ON true
LEFT JOIN LATERAL (
    SELECT l.id, l.name FROM layout l
    WHERE l.community_id = comm.id AND {in_force}
    LIMIT 1
) lay ON true
LEFT JOIN LATERAL (
    SELECT u.id, u.number, u.building_id
    FROM unit u
    WHERE ST_Covers(u.geom, pt.g)
      AND (SELECT b.community_id FROM building b WHERE b.id = u.building_id) = comm.id
    ORDER BY ST_Area(u.geom), u.id
    LIMIT 1
) un ON true
LEFT JOIN LATERAL (
    (SELECT b.id, b.code, b.name, b.address, b.compound_id
     FROM building b WHERE b.id = un.building_id)
    UNION ALL
    (SELECT b.id, b.code, b.name, b.address, b.compound_id
     FROM building b
     WHERE un.id IS NULL AND b.community_id = comm.id AND ST_Covers(b.geom, pt.g)
     ORDER BY ST_Area(b.geom), b.id
     LIMIT 1)
    LIMIT 1
) bl ON true
LEFT JOIN LATERAL (
    (SELECT g.id, g.code, g.name, 0.0::float8 AS dist
     FROM grid g
     WHERE g.layout_id = lay.id AND ST_Covers(g.geom, pt.g)
     ORDER BY ST_Area(g.geom), g.id
     LIMIT 1)
    UNION ALL
    (SELECT g.id, g.code, g.name, d.dist
     FROM grid g
     CROSS JOIN LATERAL (SELECT ST_Distance(g.geom::geography, pt.g::geography) AS dist) d
     WHERE g.layout_id = lay.id
       AND g.geom && ST_Expand(pt.g, comm.gap_tolerance_m / pt.m_per_deg)
       AND d.dist <= comm.gap_tolerance_m
     ORDER BY d.dist, ST_Area(g.geom), g.id
     LIMIT 1)
    LIMIT 1
) gp ON true
LEFT JOIN LATERAL (
    (SELECT co.id, co.name, co.property_company_id FROM compound co WHERE co.id = bl.compound_id)
    UNION ALL
    (SELECT co.id, co.name, co.property_company_id
     FROM compound co
     WHERE bl.compound_id IS NULL AND co.community_id = comm.id AND ST_Covers(co.geom, pt.g)
     ORDER BY ST_Area(co.geom), co.id
     LIMIT 1)
    LIMIT 1
) cp ON true
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object('id', x.id, 'code', x.code, 'name', x.name,
                                      'kind', x.kind, 'reason', x.reason)
                    ORDER BY x.code, x.reason) AS items
    FROM (
        SELECT d.id, d.code, d.name, d.kind, 'category' AS reason
        FROM category_department cd JOIN department d ON d.id = cd.department_id
        WHERE cd.category_id = cat.id
          AND (d.jurisdiction IS NULL OR ST_Covers(d.jurisdiction, pt.g))
        UNION
        SELECT d.id, d.code, d.name, d.kind, 'property' AS reason
        FROM department d
        WHERE cat.is_property AND d.id = cp.property_company_id
    ) x
) deps ON true
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object(
               'role', a.role, 'volunteer_team', a.volunteer_team, 'on_duty', a.on_duty,
               'staff_id', s.id, 'code', s.code, 'name', s.name, 'phone', s.phone)
           ORDER BY a.role, s.code) AS members
    FROM assignment a JOIN staff s ON s.id = a.staff_id
    WHERE CAST(:with_team AS boolean)
      AND (a.grid_id = gp.id OR a.building_id = bl.id OR a.unit_id = un.id)
) team ON true
ORDER BY i.idx
"""

BATCH_SQL = sa.text(
    _TEMPLATE.format(
        in_force=in_force_sql("l", "i.at"),
        input="unnest(CAST(:idx AS int[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]),"
        " CAST(:at AS timestamptz[]), CAST(:category AS text[]))",
    )
)
POINT_SQL = sa.text(
    _TEMPLATE.format(
        in_force=in_force_sql("l", "i.at"),
        input="(VALUES (0, CAST(:lon AS float8), CAST(:lat AS float8),"
        " CAST(:at AS timestamptz), CAST(:category AS text)))",
    )
)
