"""incident indexes for grid staff's lists: building and unit

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Grid staff see the incidents of their own area: routed to one of their
grids, buildings or units (``gridgis.incidents.views.visible_to``, an OR over
the three ids). With an index on the grid id only, PostgreSQL could not
combine the three and scanned the whole table for every list: measured on
300,000 incidents in the demo community, counting a building head's list
took 280 ms and a grid worker's 300 ms; with these two indexes the three
ids are combined (BitmapOr) and the same lists take 40 ms and 130 ms
(``gridgis/incidents/queries.py``).
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incident_building_id", "incident", ["building_id"], unique=False)
    op.create_index("ix_incident_unit_id", "incident", ["unit_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_incident_unit_id", table_name="incident")
    op.drop_index("ix_incident_building_id", table_name="incident")
