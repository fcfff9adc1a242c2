"""The three rates (response, resolution, satisfaction) as JSON and CSV."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("rates", __name__)
