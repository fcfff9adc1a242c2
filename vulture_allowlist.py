"""Uses of code that vulture cannot see (`make lint` runs vulture on gridgis/ and web/).

Each line names something that is used, and says by whom. Anything not listed
here and reported by vulture is dead: delete it.
"""

# ruff: noqa: B018
from gridgis import clock
from gridgis.access import privacy
from gridgis.cli import serve
from gridgis.incidents import webhooks
from gridgis.incidents.intake_copy import _EwkbHex, _JsonText
from gridgis.incidents.worker import Tally
from gridgis.maps.community import OfflineMap
from gridgis.models import Category, Department, Incident, IncidentReporter
from gridgis.routing import cache
from gridgis.routing.results import RoutingResult
from gridgis.shapes.reading import Shapes
from web import i18n
from web.my.team import TeamCard

# Columns read and written by SQLAlchemy (routing SQL, the catalogue loader, exports).
Department.jurisdiction
Category.name_zh
Category.name_en
Category.response_hours
Category.resolution_hours
Category.is_property

# Dataclass fields serialised whole (asdict) for the routing API and the CLI.
RoutingResult.compound_name
RoutingResult.team_notes
# Public API of a routing result (tests, the CLI, the dispatcher's views to come).
RoutingResult.explanation_zh
RoutingResult.explanation_en
# What the reader reports about a file (tests; import summaries).
Shapes.source_crs

# The rule for residents' personal data (DESIGN.md, Security). No surface holds
# residents yet: households and incident reporters (the next issues) will call
# it; tests/gridgis/access/test_privacy.py pins it now.
privacy.sees_resident_data

# Seams for tests and benchmarks: freeze and move the clock, drop the routing index.
clock.frozen
clock.FixedClock.advance
cache.forget_indexes

# Framework hooks: gunicorn calls load_config; folium reads default_js/default_css.
serve._gunicorn_app
OfflineMap.default_js
OfflineMap.default_css

# Attributes set on framework objects (Flask's JSON provider, flask.g, session,
# responses), read by the framework or by other request hooks.
_.ensure_ascii  # type: ignore[name-defined]  # noqa: F821
_.sort_keys  # type: ignore[name-defined]  # noqa: F821
_.db_done  # type: ignore[name-defined]  # noqa: F821
_.status_code  # type: ignore[name-defined]  # noqa: F821
_.permanent  # type: ignore[name-defined]  # noqa: F821
_.load_config  # type: ignore[name-defined]  # noqa: F821
_.data_type  # type: ignore[name-defined]  # noqa: F821

# Photos: Pillow reads its module-level pixel limit, which photos.clean_photo sets.
_.MAX_IMAGE_PIXELS  # type: ignore[name-defined]  # noqa: F821

# The worker: urllib calls redirect_request (refusing redirects); tests read what a pass did.
webhooks._NoRedirects.redirect_request
Tally.failed_attempts

# Intake writes incidents as rows of column values (gridgis.incidents.reports.incident_row,
# stored by the ORM or by COPY); who took an incident in is read from the database.
Incident.created_by
IncidentReporter.added_at

# The Makefile's %.mo rule and tests/web/conftest.py compile the catalogs with it.
i18n.compile_catalogs
# /my: the team card's property companies are read by templates/my_team.html; Werkzeug
# reads direct_passthrough to decide whether an after_request hook may buffer a static file.
TeamCard.property_companies
_.direct_passthrough  # type: ignore[name-defined]  # noqa: F821

# psycopg calls a Dumper's dump() for each value it copies (binary COPY of incidents).
_JsonText.dump
_EwkbHex.dump

# The vector-tile support element's script, read by its template (gridgis.maps.vector).
from gridgis.maps.vector import VectorSupport  # noqa: E402

VectorSupport.js
