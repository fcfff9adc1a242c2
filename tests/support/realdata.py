"""Where the real datasets are: ../shared/data/real beside the checkout (read-only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridgis.config import PROJECT_ROOT

SHARED_REAL = PROJECT_ROOT.parent / "shared" / "data" / "real"


def shared_real(relative: str) -> Path:
    """A file from ../shared/data/real, or skip saying that it is absent."""
    path = SHARED_REAL / relative
    if not path.exists():
        pytest.skip(f"real dataset {path} is absent (../shared is not beside this checkout)")
    return path
