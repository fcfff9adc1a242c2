"""GRIDGIS_READ_DATABASE_URL and GRIDGIS_REPLICA_WAIT_MS, as read by Settings.from_env."""

from __future__ import annotations

import pytest

from gridgis.config import Settings


def test_without_a_replica_every_read_stays_on_the_primary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDGIS_READ_DATABASE_URL", raising=False)
    monkeypatch.delenv("GRIDGIS_REPLICA_WAIT_MS", raising=False)
    settings = Settings.from_env()
    assert settings.read_database_url == ""
    assert settings.replica_wait_ms == 200


def test_the_replica_url_gets_the_psycopg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDGIS_READ_DATABASE_URL", "postgres://gridgis:pw@standby:5432/gridgis")
    monkeypatch.setenv("GRIDGIS_REPLICA_WAIT_MS", "50")
    settings = Settings.from_env()
    assert settings.read_database_url == "postgresql+psycopg://gridgis:pw@standby:5432/gridgis"
    assert settings.replica_wait_ms == 50
