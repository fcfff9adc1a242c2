"""The ``my`` blueprint, shared by the modules of :mod:`web.my`."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("my", __name__, url_prefix="/my")
