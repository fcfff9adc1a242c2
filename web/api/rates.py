"""The three rates (response, resolution, satisfaction) as JSON and CSV (``/api/v1/rates``).

``GET /api/v1/rates?by=grid|category|channel|none&period=day|week|month|range
&from=2026-10-01&to=2026-10-31&community=CODE&format=json|csv``. Grid staff
get their own area's incidents only. The definitions travel with the numbers
(``definitions`` in JSON, ``#`` lines above the table in CSV); they are
written in :mod:`gridgis.incidents.rates`.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from gridgis.errors import InvalidInput
from gridgis.incidents import rates as three_rates
from gridgis.incidents.periods import parse_window
from web import db
from web.security import current_principal, requires

bp = Blueprint("rates", __name__)

FORMATS = ("json", "csv")


@bp.get("/rates")
@requires("incidents:read")
def rates() -> Response:
    """The three rates per grid, category or channel and period, with their definitions."""
    args = request.args
    fmt = args.get("format", "json")
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be json or csv; got {fmt!r}.")
    window = parse_window(args.get("period", "month"), args.get("from"), args.get("to"))
    report = three_rates.compute(
        db.get_read_session(),
        viewer=current_principal(),
        by=args.get("by", "grid"),
        window=window,
        community=args.get("community") or None,
    )
    if fmt == "json":
        return jsonify(report.as_dict())
    # UTF-8 with a BOM: Excel and WPS then read the Chinese right.
    body = "\ufeff" + three_rates.as_csv(report)
    response = Response(body.encode("utf-8"), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="rates-{report.by}-{window.period}.csv"'
    )
    return response
