"""Planning pages (``/plan``): the diff of two layouts (方案对比), for planners and administrators.

``GET /plan/<layout>/diff?community=CODE[&against=NAME][&format=html|json|csv|geojson]``
shows what layout ``<layout>`` changes against ``against`` (default: the
layout in force): the summary line, every grid's totals before and after, the
buildings that move, and a map of the community coloured by change
(:mod:`gridgis.maps.layout_diff`). ``json``, ``csv`` and ``geojson`` send the
same documents as ``gridgis layout diff --format`` (the serialisers of
:mod:`gridgis.planning.diff`). Drafts are plans: the permission is the one
planners hold for layouts, ``layout:draft``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request, url_for

from gridgis.errors import N_, InvalidInput
from gridgis.maps import offline
from gridgis.maps.layout_diff import build_layout_diff_map
from gridgis.planning.diff import APPEARING, DISAPPEARING, KEPT, Diff, Figures, diff_named
from gridgis.planning.drafts import find_layout
from web import db, i18n
from web.maps import with_nonce
from web.security import requires

bp = Blueprint("planning", __name__, url_prefix="/plan")

FORMATS = ("html", "json", "csv", "geojson")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "geojson": "application/geo+json",
}
CHANGES = {KEPT: N_("kept"), APPEARING: N_("appearing"), DISAPPEARING: N_("disappearing")}


@bp.get("/<layout>/diff")
@requires("layout:draft")
def diff(layout: str) -> Response | str:
    """What layout ``layout`` changes against another, as a page or a file."""
    args = request.args
    fmt = args.get("format") or "html"
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}.")
    community = (args.get("community") or "").strip()
    if not community:
        raise InvalidInput(N_("Choose a community."))
    against = args.get("against") or None
    session = db.get_session()
    found = diff_named(session, community, layout, against=against)
    if fmt != "html":
        body: str | bytes
        if fmt == "json":
            body = found.as_json()
        elif fmt == "csv":
            body = found.as_csv()
        else:
            body = found.as_geojson()
        response = Response(body, mimetype=MEDIA_TYPES[fmt])
        extension = "csv" if fmt == "csv" else fmt
        response.headers["Content-Disposition"] = (
            f'attachment; filename="diff-{found.community}.{extension}"'
        )
        return response
    lang = i18n.current_language()
    m = build_layout_diff_map(
        session,
        found,
        find_layout(session, community, layout),
        assets_url=lambda name: url_for("assets.leaflet", filename=name),
        gettext=i18n.gettext,
        tiles=db.state().tiles,
    )
    parts = offline.render_parts(m)
    # folium writes inline <script> and <style> elements: the CSP admits them by nonce.
    parts = offline.MapParts(
        header=with_nonce(parts.header), html=with_nonce(parts.html), script=parts.script
    )
    query: dict[str, Any] = {"layout": layout, "community": community, "lang": lang}
    if against:
        query["against"] = against
    return render_template(
        "plan_diff.html",
        diff=found,
        map=parts,
        lang=lang,
        summary=summary(found),
        grids=[_grid(g.code, g.name, g.change, g.before, g.after) for g in found.grids],
        files={fmt: url_for(".diff", **query, format=fmt) for fmt in FORMATS[1:]},
    )


def summary(found: Diff) -> str:
    """The summary line, in the page's language."""
    moved = found.moved
    return i18n.gettext(
        "Layout {layout} against {against}: {buildings} building(s), {units} unit(s) "
        "and {households} household(s) change grid."
    ).format(
        layout=found.layout,
        against=found.against,
        buildings=moved.buildings,
        units=moved.units,
        households=moved.households,
    )


def _grid(
    code: str, name: str, change: str, before: Figures | None, after: Figures | None
) -> dict[str, Any]:
    def shown(field: str) -> str:
        old = "–" if before is None else str(getattr(before, field))
        new = "–" if after is None else str(getattr(after, field))
        return old if old == new else f"{old} → {new}"

    return {
        "code": code,
        "name": name,
        "change": change,
        "change_name": i18n.gettext(CHANGES[change]),
        "buildings": shown("buildings"),
        "units": shown("units"),
        "households": shown("households"),
    }
