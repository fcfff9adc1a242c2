"""Loading the demo community (``data/shapes``) through the ordinary import path.

The demo goes in exactly as an administrator's files would (``import_layer``),
so loading it exercises the same validation; only the catalogue (departments,
categories) has its own loader, the visits already logged to the
households (dated back from the day of loading, :mod:`gridgis.demo.households`)
go in through the domain's own :func:`gridgis.staff.visit_log.log_visits`, and
the rounds (:mod:`gridgis.demo.rounds`, dated the same way) one by one through
:func:`gridgis.staff.rounds.log_round`.
``gridgis.demo.generate`` makes the files.
``create_demo_admin`` gives a demo database its administrator.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis.access.accounts import create_user, has_admin
from gridgis.access.permissions import ROLE_PERMISSIONS, Principal
from gridgis.audit import Actor
from gridgis.demo import households, rounds
from gridgis.demo.generate import SHAPES_DIR
from gridgis.errors import Conflict, InvalidFile
from gridgis.geo.layouts import publish_layout
from gridgis.models import Community, Layout, User
from gridgis.shapes.catalogue import load_categories, load_departments
from gridgis.shapes.importing import import_layer

#: The layers in dependency order, each with its file.
LAYER_FILES = (
    ("community", "community.geojson"),
    ("grids", "grids.geojson"),
    ("compounds", "compounds.geojson"),
    ("buildings", "buildings.geojson"),
    ("units", "units.geojson"),
    ("staff", "staff.csv"),
    ("households", "households.csv"),
)
DEMO_LAYOUT = "2026 初始网格方案"
#: The demo layout is in force from here, not from the moment it is loaded:
#: the sample hotline export (November 2026) and any report dated before
#: `make run` must route to it (routing follows the layout in force *then*).
DEMO_VALID_FROM = dt.datetime(2026, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
DEMO_ADMIN = "admin"


def demo_community_code(shapes_dir: Path = SHAPES_DIR) -> str:
    path = shapes_dir / "community.geojson"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return str(doc["features"][0]["properties"]["code"])
    except (OSError, KeyError, IndexError, ValueError) as exc:
        raise InvalidFile(
            f"{path}: the demo community file is missing or broken; "
            "regenerate it with `gridgis demo generate`."
        ) from exc


def load_demo(session: Session, shapes_dir: Path = SHAPES_DIR, *, actor: Actor) -> dict[str, int]:
    """Load the demo community (every file audited); return counts per layer."""
    code = demo_community_code(shapes_dir)
    if session.scalar(sa.select(Community.id).where(Community.code == code)) is not None:
        raise Conflict(f"The demo community {code} is already loaded.")
    departments = load_departments(session, shapes_dir / "departments.geojson", actor=actor)
    counts = {"departments": departments}
    for layer, filename in LAYER_FILES:
        report = import_layer(
            session,
            layer,
            shapes_dir / filename,
            community_code=code,
            layout_name=DEMO_LAYOUT,
            actor=actor,
        )
        counts[layer] = report.count
        if layer == "grids":
            layout = session.scalars(
                sa.select(Layout)
                .join(Community)
                .where(Community.code == code, Layout.name == DEMO_LAYOUT)
            ).one()
            publish_layout(session, layout, DEMO_VALID_FROM, actor=actor)
    counts["categories"] = load_categories(session, shapes_dir / "categories.json", actor=actor)
    counts["visits"] = households.load_visits(
        session, shapes_dir / "visits.csv", code, actor=_administrator(actor)
    )
    counts["rounds"] = rounds.load_rounds(
        session, shapes_dir / "rounds.csv", code, actor=_administrator(actor)
    )
    return counts


def _administrator(actor: Actor) -> Principal:
    """The one loading the demo, as the principal a domain write checks: an administrator.

    Whoever loads the demo runs the server (the command line, or a test's
    actor); the audit log names them as ``actor`` does.
    """
    if isinstance(actor, Principal):
        return actor
    kind, _, name = actor.audit_name.partition(":")
    return Principal(
        kind=kind, name=name or kind, role="admin", permissions=ROLE_PERMISSIONS["admin"]
    )


def create_demo_admin(session: Session, *, actor: Actor) -> str | None:
    """Create the demo administrator ``admin`` with a random password; return the password.

    Only for the demo database (``gridgis demo load``): a real installation
    creates its first administrator by hand. The password exists only in the
    return value: show it once. Returns None, creating nothing, when the
    database already has an administrator or an account named ``admin``.
    """
    if has_admin(session) or session.scalar(
        sa.select(sa.func.count()).select_from(User).where(User.username == DEMO_ADMIN)
    ):
        return None
    password = secrets.token_urlsafe(12)
    while password.isdigit():  # the password policy refuses all digits (odds ~1e-11)
        password = secrets.token_urlsafe(12)
    create_user(session, DEMO_ADMIN, password, "admin", actor=actor)
    return password
