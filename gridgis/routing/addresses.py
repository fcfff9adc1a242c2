"""Routing by a typed address or building name (no coordinates given).

Exact match first, then a substring, then trigram similarity (pg_trgm, which
works on Chinese text too); when several buildings match about equally well
the answer is the list of candidates, never a guess.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.scope import Scope
from gridgis.errors import InvalidInput
from gridgis.routing.points import _route_row, check_text
from gridgis.routing.results import RoutingResult, _json, build_result

# Trigram similarity a fuzzy match needs, and how far ahead of the runner-up
# the best match must be before we take it rather than ask.
FUZZY_MIN = 0.45
FUZZY_MARGIN = 0.15


def _normalise_address(text: str) -> str:
    # NFKC folds full-width digits and letters (１８号 → 18号); spaces carry no meaning.
    return "".join(unicodedata.normalize("NFKC", text).split())


def route_address(
    session: Session,
    address: str,
    *,
    category: str | None = None,
    at: dt.datetime | None = None,
    community_code: str | None = None,
    within: Scope | None = None,
) -> RoutingResult:
    """Route by a building's address or name: exact, then substring, then fuzzy (pg_trgm).

    When several buildings match equally well the result's rule is
    ``ambiguous_address`` and it lists the candidates: a person chooses, we
    never guess. ``within`` (a grid staff member's area) limits the search to
    the buildings in it: an address search must not reveal what the layers hide.
    """
    check_text(address, "address")
    check_text(community_code, "community")
    query = _normalise_address(address or "")
    if len(query) < 2:
        raise InvalidInput("Give an address or building name of at least two characters.")
    params: dict[str, Any] = {"q": query, "community": community_code}
    scope = "AND (CAST(:community AS text) IS NULL OR c.code = :community)"
    if within is not None:
        scope += " AND b.id = ANY(CAST(:mine AS int[]))"
        params["mine"] = sorted(within.building_ids)
    # The f-string joins this function's own constant fragments; the typed text
    # and every value travel as bound parameters.
    base = f"""
        SELECT b.id, b.code, b.name, b.address, c.code AS community_code,
               ST_X(ST_PointOnSurface(b.geom)) AS lon, ST_Y(ST_PointOnSurface(b.geom)) AS lat,
               greatest(similarity(coalesce(b.address, ''), :q),
                        similarity(coalesce(b.name, ''), :q)) AS score
        FROM building b JOIN community c ON c.id = b.community_id
        WHERE {{where}} {scope}
        ORDER BY score DESC, b.id
        LIMIT 10
    """  # nosec B608
    candidates: list[dict[str, Any]] = []
    for where in (
        "(replace(b.address, ' ', '') = :q OR replace(b.name, ' ', '') = :q)",
        "(b.address LIKE '%' || :q || '%' OR b.name LIKE '%' || :q || '%')",
        "(b.address % :q OR b.name % :q)",
    ):
        candidates = [
            dict(r) for r in session.execute(sa.text(base.format(where=where)), params).mappings()
        ]
        if candidates:
            break
    if not candidates:
        return RoutingResult(rule="ambiguous_address", lon=None, lat=None, reason="no match")
    top = candidates[0]
    exact = (
        _normalise_address(top["address"] or "") == query
        or _normalise_address(top["name"] or "") == query
    )
    clear = len(candidates) == 1 or (
        top["score"] >= FUZZY_MIN and top["score"] - candidates[1]["score"] >= FUZZY_MARGIN
    )
    if exact and len(candidates) > 1 and candidates[1]["score"] == top["score"]:
        clear = False
    if not clear:
        listed = tuple(
            {k: c[k] for k in ("id", "code", "name", "address", "community_code", "score")}
            for c in candidates
        )
        return RoutingResult(
            rule="ambiguous_address", lon=None, lat=None, candidates=listed, reason="ambiguous"
        )
    row = _route_row(
        session, top["lon"], top["lat"], category=category, at=at, community=community_code
    )
    # An address names a building, not a stairwell: drop the unit the
    # point-on-surface happened to fall in, and its head.
    row["unit_id"] = row["unit_number"] = None
    row["team"] = [m for m in _json(row["team"]) if m["role"] != "unit_head"]
    result = build_result(row, top["lon"], top["lat"], "EPSG:4326")
    if result.rule in ("unit", "building"):
        result = replace(result, rule="address")
    return replace(result, matched_address=top["address"] or top["name"])
