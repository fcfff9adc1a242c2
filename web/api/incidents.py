"""Incidents over HTTP: take in, list, read, move (``/api/v1/incidents``)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("incidents", __name__)
