"""``gridgis worker``: deliver notifications, escalate overdue incidents, reroute at cut-overs.

Also ``gridgis outbox``. The worker's loop is :mod:`gridgis.incidents.worker`;
rerouting open incidents at a layout's cut-over
(:func:`gridgis.planning.cutover.reroute_due`) is handed to it here, as a
periodic job, since incidents may not import planning.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType

import click

from gridgis import clock
from gridgis.cli.common import cli_actor
from gridgis.config import PROJECT_ROOT, Settings
from gridgis.db import check_least_privilege, engine_scope, make_engine, unit_of_work
from gridgis.errors import GridgisError
from gridgis.incidents import delivery, outbox
from gridgis.incidents.media import media_folder
from gridgis.incidents.worker import Schedule, run
from gridgis.models import OutboxMessage
from gridgis.planning.cutover import reroute_due

#: Where a daemonised worker logs unless told otherwise.
DEFAULT_LOG = PROJECT_ROOT / "var" / "log" / "worker.log"


@click.command()
@click.option(
    "--once", is_flag=True, help="One pass (deadline job, cut-overs, due messages), then exit."
)
@click.option("--status", "show_status", is_flag=True, help="Show the outbox's state and exit.")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.05),
    default=2.0,
    show_default=True,
    help="Seconds between looks at the outbox when nothing is due.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to wait for a receiver to connect, and for each read of its answer.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Attempts per message before it is given up on (kept as failed).",
)
@click.option("--daemon", is_flag=True, help="Detach and run in the background.")
@click.option(
    "--pidfile",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the worker's PID here (used by `make stop`).",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Log here (default: standard error; with --daemon, var/log/worker.log).",
)
def worker(
    once: bool,
    show_status: bool,
    poll: float,
    timeout: float,
    max_attempts: int,
    daemon: bool,
    pidfile: Path | None,
    log_file: Path | None,
) -> None:
    """Deliver the outbox to GRIDGIS_WEBHOOKS, escalate overdue incidents (督办), and
    reroute open incidents at the cut-overs published with --reroute-open.

    Runs until stopped (SIGTERM or Ctrl-C: the message in hand is finished).
    Every message is delivered at least once; receivers deduplicate by its
    id (the Idempotency-Key header). Killing the worker loses nothing.
    """
    if show_status:
        _print_status()
        return
    settings = Settings.from_env()
    schedule = Schedule(
        poll=poll,
        deadline_check=settings.deadline_check_seconds,
        policy=delivery.Policy(timeout=timeout, max_attempts=max_attempts),
        media_dir=media_folder(settings.media_dir),
        jobs=(reroute_due,),
    )
    if pidfile is not None:
        _refuse_if_running(pidfile)
    # Checked before detaching, so that a wrong setting reaches the terminal.
    with engine_scope() as engine:
        check_least_privilege(engine)
    if daemon:
        _daemonize()
        log_file = log_file or DEFAULT_LOG
    if log_file is not None:
        _log_to(log_file)
    # The worker reports what it does (deliveries, retries, escalations) at INFO.
    logging.getLogger("gridgis").setLevel(min(logging.getLogger().level, logging.INFO))
    stop = threading.Event()
    # The statement's values stay out of any error text that reaches the log.
    engine = make_engine(hide_parameters=True)
    with _pidfile(pidfile), _stopped_by_signals(stop):
        logging.getLogger(__name__).info("worker started (pid %d)", os.getpid())
        try:
            run(engine, schedule, stop, once=once)
        finally:
            engine.dispose()
            logging.getLogger(__name__).info("worker stopped (pid %d)", os.getpid())


def _refuse_if_running(pidfile: Path) -> None:
    try:
        pid = int(pidfile.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return  # none, or unreadable: a worker that was killed left it; replaced below
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    except PermissionError:
        pass  # alive, another user's
    if pid != os.getpid():
        raise GridgisError(
            f"A worker is already running (pid {pid}, {pidfile}); stop it first (`make stop`)."
        )


def _daemonize() -> None:
    """Detach from the terminal (the classic double fork); standard streams to /dev/null."""
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _log_to(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)


@contextmanager
def _pidfile(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = str(os.getpid())
    path.write_text(mine + "\n", encoding="ascii")
    try:
        yield
    finally:
        with suppress(OSError):
            if path.read_text(encoding="ascii").strip() == mine:
                path.unlink()


@contextmanager
def _stopped_by_signals(stop: threading.Event) -> Iterator[None]:
    def handle(_signum: int, _frame: FrameType | None) -> None:
        # Only set the flag: the loop finishes the message in hand, then leaves.
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield  # signals go to the main thread only (a worker run inside a test's thread)
        return
    previous = {s: signal.signal(s, handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _print_status() -> None:
    names = [r.name for r in outbox.receivers()]
    with engine_scope() as engine, unit_of_work(engine) as session:
        state = delivery.status(session, names, now=clock.now())
        failed = delivery.listed(session, failed=True, limit=20)
    click.echo(
        f"Outbox: {state.pending} pending ({state.due} due now, {state.retrying} being retried), "
        f"{state.failed} failed, {state.delivered} delivered."
    )
    if state.oldest_pending is not None:
        click.echo(f"Oldest pending message written {clock.show(state.oldest_pending)}.")
    if state.unrouted:
        click.echo(
            f"{state.unrouted} pending message(s) are for a receiver GRIDGIS_WEBHOOKS no longer "
            "names; they wait until it does."
        )
    _print_messages(failed, failed=True)
    if state.failed > len(failed):
        click.echo(f"... and {state.failed - len(failed)} more: `gridgis outbox list --failed`.")


def _print_messages(messages: list[OutboxMessage], *, failed: bool) -> None:
    if not messages:
        return
    click.echo(
        "Failed (gave up; `gridgis outbox retry` puts them back in line):"
        if failed
        else "Pending (next attempt first):"
    )
    for m in messages:
        when = clock.show(m.failed_at if failed else m.next_attempt_at)
        click.echo(
            f"  {m.message_id}  {m.destination}  {m.topic}  attempts {m.attempts}  "
            f"{'failed' if failed else 'next'} {when}  {m.last_error or ''}".rstrip()
        )


@click.group()
def outbox_group() -> None:
    """The notifications waiting to be delivered, or given up on."""


@outbox_group.command("list")
@click.option("--failed", is_flag=True, help="Only the messages given up on.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def list_command(failed: bool, limit: int) -> None:
    """List pending messages (and failed ones): id, receiver, topic, attempts, last error.

    Payloads are not shown: read them in the database if you must.
    """
    names = [r.name for r in outbox.receivers()]
    with engine_scope() as engine, unit_of_work(engine) as session:
        state = delivery.status(session, names, now=clock.now())
        click.echo(
            f"{state.pending} pending ({state.due} due now), {state.failed} failed, "
            f"{state.delivered} delivered."
        )
        if not failed:
            _print_messages(delivery.listed(session, failed=False, limit=limit), failed=False)
        _print_messages(delivery.listed(session, failed=True, limit=limit), failed=True)


@outbox_group.command("retry")
@click.argument("message_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every failed message.")
def retry_command(message_ids: tuple[str, ...], every: bool) -> None:
    """Put failed messages (by MESSAGE_ID, or --all) back in line for the worker."""
    if bool(message_ids) == every:
        raise GridgisError("Name the failed messages to retry, or give --all.")
    with engine_scope() as engine, unit_of_work(engine) as session:
        count = delivery.retry_failed(
            session, None if every else list(message_ids), actor=cli_actor()
        )
    click.echo(f"{count} message(s) back in line; the worker sends them at its next look.")
