"""``gridgis serve``: the production WSGI server (gunicorn) for the web app."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from gridgis.config import Settings
from gridgis.db import check_least_privilege, engine_scope


def _gunicorn_app(options: dict[str, Any]):  # type: ignore[no-untyped-def]
    # Imported here: gunicorn is a server concern, not something every command needs.
    from gunicorn.app.base import BaseApplication

    class GridgisApplication(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # type: ignore[no-untyped-def]
            from web import create_app

            return create_app()

    return GridgisApplication()


@click.command()
@click.option("--host", default=None, help="Address to bind (default GRIDGIS_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default GRIDGIS_PORT or 5000).")
@click.option(
    "--workers",
    type=int,
    default=lambda: int(os.environ.get("GRIDGIS_WORKERS", "2")),
    show_default="GRIDGIS_WORKERS or 2",
    help="Worker processes.",
)
@click.option("--threads", type=int, default=4, show_default=True, help="Threads per worker.")
@click.option("--daemon", is_flag=True, help="Detach and run in the background.")
@click.option(
    "--pidfile",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the master's PID here (used by `make stop`).",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Error log (default: standard error).",
)
def serve(
    host: str | None,
    port: int | None,
    workers: int,
    threads: int,
    daemon: bool,
    pidfile: Path | None,
    log_file: Path | None,
) -> None:
    """Serve the web app with gunicorn at http://HOST:PORT.

    Refuses to start when DATABASE_URL's role is a superuser or owns the tables.
    """
    settings = Settings.from_env()
    with engine_scope() as engine:
        check_least_privilege(engine)
    host = host or settings.host
    port = port or settings.port
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "daemon": daemon,
        "timeout": 60,
        # Access logs would hold query strings (addresses, coordinates typed by
        # residents): leave them off; errors still go to the error log.
        "accesslog": None,
        "errorlog": str(log_file) if log_file else "-",
        "proc_name": "gridgis",
    }
    if pidfile:
        options["pidfile"] = str(pidfile)
    click.echo(f"gridgis serving at http://{host}:{port} ({workers} workers × {threads} threads)")
    app = _gunicorn_app(options)
    if daemon:
        # gunicorn's BaseApplication (unlike its command line) does not detach
        # by itself; do it before the arbiter starts.
        from gunicorn import util

        util.daemonize(False)
    app.run()
