"""The ``gridgis`` command line in tests: run it in-process, count rows it left behind."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner, Result

from gridgis.cli import main


def gridgis(*args: object) -> Result:
    """``gridgis ARGS...`` in this process (output, exit code and exception in the Result)."""
    return CliRunner().invoke(main, [str(a) for a in args])


def count(url: str, sql: str) -> int:
    """The number ``sql`` (a ``SELECT count(*) ...``) answers in the database at ``url``."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = int(connection.execute(sa.text(sql)).scalar_one())
    engine.dispose()
    return found
