"""Administrator pages: the audit log (``/admin/audit``) and its export (``/admin/audit.csv``)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, render_template, request, url_for

from gridgis import audit
from gridgis.geo.query import parse_offset
from web import db
from web.security import requires

bp = Blueprint("audit", __name__, url_prefix="/admin")

#: Entries per page.
PAGE = 100


def _compact(value: dict[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


@bp.get("/audit")
@requires("audit:read")
def audit_log() -> str:
    """The newest entries first, a page at a time; ``?actor=`` and ``?entity=`` filter."""
    offset = parse_offset(request.args.get("offset"))
    actor = request.args.get("actor") or None
    entity = request.args.get("entity") or None
    found = audit.entries(
        db.get_session(), limit=PAGE + 1, offset=offset, actor=actor, entity=entity
    )
    filters: dict[str, Any] = {k: v for k, v in (("actor", actor), ("entity", entity)) if v}
    newer = (
        url_for(".audit_log", **{**filters, "offset": max(offset - PAGE, 0)}) if offset else None
    )
    older = (
        url_for(".audit_log", **{**filters, "offset": offset + PAGE}) if len(found) > PAGE else None
    )
    rows = [
        {**audit.as_dict(e), "before": _compact(e.before), "after": _compact(e.after)}
        for e in found[:PAGE]
    ]
    return render_template(
        "audit.html", rows=rows, actor=actor or "", entity=entity or "", newer=newer, older=older
    )


@bp.get("/audit.csv")
@requires("audit:read")
def audit_csv() -> Response:
    """The whole audit log as CSV (UTF-8 with a BOM, so Excel reads the Chinese)."""
    with tempfile.TemporaryDirectory(prefix="gridgis-audit-") as folder:
        out = Path(folder) / "audit.csv"
        audit.export(db.get_session(), out)
        body = out.read_bytes()
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return response
