"""Photos of incidents: upload and fetch, for those who may see the incident."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("photos", __name__)
