"""The monthly work report for the office (``/reports/monthly``): tables, charts, CSV and XLSX.

``GET /reports/monthly?community=CODE&month=2026-11&grid=CODE&format=html|csv|xlsx``
shows the grid table and the staff table of :mod:`gridgis.reports.monthly`
with three charts (visits done against due per grid; incidents reported,
handled and overdue per grid; rounds by kind), or sends the report as a file
(:mod:`gridgis.reports.files`, audited). Administrators and dispatchers read
any grid; grid staff their own (the domain decides: ``reports:read`` and
their scope).

The charts are SVG drawn here on the server: bars are rectangles, so they
need no script (nothing for the CSP to allow, nothing from a CDN, nothing to
install), print as they are shown, and stay readable without JavaScript. The
tables under them hold the same numbers for screen readers and copying.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, render_template, request, url_for

from gridgis.errors import InvalidInput
from gridgis.models import ROUND_KIND_TERMS, Community
from gridgis.reports import files
from gridgis.reports.columns import DEFINITIONS, GRID_COLUMNS, STAFF_COLUMNS, label
from gridgis.reports.monthly import MonthlyReport, monthly_report
from gridgis.reports.staff import role_names
from gridgis.staff.round_listing import RoundEntry, rounds_of
from web import db, i18n
from web.security import current_principal, requires

bp = Blueprint("reports", __name__, url_prefix="/reports")

FORMATS = ("html", *files.FORMATS)
#: Rounds listed under the tables (the newest of the month); the files hold the counts.
ROUNDS_LISTED = 200
#: The charts' geometry, in SVG user units (the SVG scales to the page's width).
LABEL_W, BAR_AREA_W, BAR_H, GAP, VALUE_W = 150, 380, 14, 10, 40


def bar_chart(
    chart_id: str,
    title: str,
    groups: list[tuple[str, dict[str, int]]],
    series: list[tuple[str, str]],
) -> dict[str, Any]:
    """A horizontal bar chart: bars for ``groups`` (label, value per series key), scaled to the top.

    ``series`` is (key, label) in drawing order; the key names the CSS class
    (``gg-bar-<key>`` in reports.css) that colours it. Returns what the
    template draws: the SVG's size, the group labels and the bars, the legend.
    """
    top = max([1, *(v.get(k, 0) for _, v in groups for k, _ in series)])
    bars, labels = [], []
    y = GAP
    for name, values in groups:
        labels.append({"y": y + len(series) * BAR_H // 2 + 4, "text": name})
        for key, series_label in series:
            value = int(values.get(key, 0))
            bars.append(
                {
                    "x": LABEL_W,
                    "y": y,
                    "width": round(BAR_AREA_W * value / top),
                    "height": BAR_H - 2,
                    "css": f"gg-bar-{key}",
                    "value": value,
                    "title": f"{name} · {series_label}",
                }
            )
            y += BAR_H
        y += GAP
    return {
        "id": chart_id,
        "title": title,
        "label_x": LABEL_W - 6,
        "width": LABEL_W + BAR_AREA_W + VALUE_W,
        "height": max(y, 3 * GAP),
        "labels": labels,
        "bars": bars,
        "legend": series,
    }


def charts(report: MonthlyReport, lang: str) -> list[dict[str, Any]]:
    """The page's three charts: visits per grid, incidents per grid, rounds by kind."""
    groups = [(r["grid_name"] or r["grid"] or i18n.gettext("(no grid)"), r) for r in report.grids]
    rounds = {k: report.total[f"rounds_{k}"] for k in ROUND_KIND_TERMS}
    return [
        bar_chart(
            "gg-chart-visits",
            i18n.gettext("Visits done against visits due, per grid"),
            groups,
            [(c, label(c, lang)) for c in ("visits_required", "visits_done")],
        ),
        bar_chart(
            "gg-chart-incidents",
            i18n.gettext("Incidents reported, handled and overdue, per grid"),
            groups,
            [(c, label(c, lang)) for c in ("reported", "handled", "overdue")],
        ),
        bar_chart(
            "gg-chart-rounds",
            i18n.gettext("Rounds by kind"),
            [(t.name(lang), {"rounds": rounds[k]}) for k, t in ROUND_KIND_TERMS.items()],
            [("rounds", label("rounds", lang))],
        ),
    ]


@bp.get("/monthly")
@requires("reports:read")
def monthly() -> Response | str:
    """The month's report of a community (and grid) as a page, or as CSV or XLSX."""
    args = request.args
    fmt = args.get("format") or "html"
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}.")
    # The report reads on the replica when there is one (web.db); its export's
    # audit entry is a write, on the request's own session.
    session = db.get_read_session()
    viewer = current_principal()
    lang = i18n.current_language()
    report = monthly_report(
        session,
        viewer,
        community=args.get("community") or None,
        month=args.get("month") or None,
        grid=args.get("grid") or None,
    )
    if fmt != "html":
        body = files.export(db.get_session(), report, fmt, actor=viewer, lang=lang)
        response = Response(body, mimetype=files.MEDIA_TYPES[fmt])
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{files.filename(report, fmt)}"'
        )
        return response
    communities: list[tuple[str, str]] = []
    if viewer.scope is None:
        communities = [
            (c, n)
            for c, n in session.execute(
                sa.select(Community.code, Community.name).order_by(Community.code)
            )
        ]
    query: dict[str, Any] = {"community": report.community, "month": report.month}
    if args.get("grid"):
        query["grid"] = args["grid"]
    listed = rounds_of(
        session,
        viewer,
        community=report.community,
        since=report.window.start,
        until=report.window.end,
        grid=args.get("grid") or None,
        limit=ROUNDS_LISTED + 1,
    )
    return render_template(
        "report_monthly.html",
        report=report,
        lang=lang,
        communities=communities,
        grid=args.get("grid") or "",
        grid_columns=[(c, label(c, lang)) for c in GRID_COLUMNS],
        staff_columns=[(c, label(c, lang)) for c in STAFF_COLUMNS],
        staff_rows=[_shown(row, lang) for row in report.staff],
        definitions=[
            (label(k, lang), t["en" if lang == "en" else "zh"]) for k, t in DEFINITIONS.items()
        ],
        charts=charts(report, lang),
        csv_url=url_for(".monthly", **query, format="csv", lang=lang),
        xlsx_url=url_for(".monthly", **query, format="xlsx", lang=lang),
        as_of=i18n.local_time(report.as_of),
        rounds=[_round(r, lang) for r in listed[:ROUNDS_LISTED]],
        more_rounds=len(listed) > ROUNDS_LISTED,
    )


def _round(entry: RoundEntry, lang: str) -> dict[str, Any]:
    joiner = ", " if lang == "en" else "、"
    return {
        "started_at": i18n.local_time(entry.started_at),
        "kind": entry.kind_name(lang),
        "grid": entry.grid_name or entry.grid or "",
        "place": " / ".join(p for p in (entry.compound, entry.building) if p),
        "people": joiner.join(p.name for p in entry.participants),
        "others": entry.others or "",
        "findings": entry.findings,
        "incidents": joiner.join(str(i) for i in entry.incidents),
    }


def _shown(row: dict[str, Any], lang: str) -> dict[str, Any]:
    joiner = ", " if lang == "en" else "、"
    return {**row, "roles": role_names(row["roles"], lang), "grids": joiner.join(row["grids"])}
