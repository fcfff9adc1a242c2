"""The worker delivers the outbox to real webhooks on localhost: retries, back-off, kills.

The receiver is a real HTTP server on 127.0.0.1 that deduplicates by message
id, like a receiver should, and fails or hangs on demand. The messages live
in a committed database of the test's own (``scratch_database_url``): the
worker commits each claim and mark.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gridgis import clock
from gridgis.access.permissions import cli_principal
from gridgis.db import unit_of_work
from gridgis.incidents import delivery, outbox
from gridgis.incidents.worker import deliver_due
from gridgis.models import AuditEntry, OutboxMessage

GRIDGIS = Path(sys.executable).with_name("gridgis")
START = dt.datetime(2026, 10, 8, 2, 0, tzinfo=dt.UTC)


@dataclass
class Delivery:
    """One request that reached the receiver."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """A webhook on 127.0.0.1 that keeps the ids it accepted and ignores repeats.

    ``fail`` answers that many requests with ``fail_status``; ``hang_on`` (the
    n-th new message) is accepted and then held, unanswered, until ``release``
    is set; ``answer`` is what a 2xx carries; ``delay`` slows every answer.
    """

    server: ThreadingHTTPServer
    deliveries: list[Delivery] = field(default_factory=list)
    #: message id → how many times it was acted on (a deduplicating receiver: once).
    accepted: dict[str, int] = field(default_factory=dict)
    repeats: Counter[str] = field(default_factory=Counter)
    fail: int = 0
    fail_status: int = 500
    hang_on: int | None = None
    answer: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    delay: float = 0.0
    hanging: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def handle(self, request: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        length = int(request.headers.get("Content-Length", "0"))
        body = json.loads(request.rfile.read(length))
        key = request.headers.get("Idempotency-Key", "")
        hang = False
        with self.lock:
            self.deliveries.append(Delivery(request.path, dict(request.headers), body))
            if self.fail > 0:
                self.fail -= 1
                return self.fail_status, {"error": "down for a test"}
            if key in self.accepted:
                self.repeats[key] += 1  # seen before: answered, not acted on again
            else:
                self.accepted[key] = 1
                hang = self.hang_on is not None and len(self.accepted) == self.hang_on
        if hang:
            self.hanging.set()
            self.release.wait(30)
        if self.delay:
            time.sleep(self.delay)
        return 200, self.answer


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            status, answer = receiver.handle(self)
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the worker was killed while we waited

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test reads what the receiver recorded

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = start_receiver()
    yield made
    made.release.set()
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture
def db(scratch_database_url: str) -> Iterator[sa.Engine]:
    """The test's own committed database."""
    made = sa.create_engine(scratch_database_url)
    yield made
    made.dispose()
    outbox.configure([])


def write_messages(engine: sa.Engine, count: int, *, topic: str = "dispatched") -> list[str]:
    """``count`` committed messages for every configured receiver; their payloads say ``n``."""
    with unit_of_work(engine) as session:
        rows = [
            m
            for n in range(count)
            for m in outbox.notify(
                session,
                topic,
                {"incident": n, "n": n, "grid": "A", "address": f"测试路{n}号", "status": topic},
            )
        ]
        return [m.message_id for m in rows]


def rows(engine: sa.Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_message_reaches_its_receiver_with_its_id_in_header_and_body(
    db: sa.Engine, receiver: Receiver
) -> None:
    outbox.configure([outbox.Receiver("hook", receiver.url())])
    [message_id] = write_messages(db, 1)
    tally = deliver_due(db, delivery.Policy(timeout=5))
    assert tally.delivered == 1
    [got] = receiver.deliveries
    assert got.headers["Idempotency-Key"] == message_id == got.body["message_id"]
    assert got.headers["X-Gridgis-Message-Id"] == message_id
    assert got.headers["Content-Type"].startswith("application/json")
    assert got.body["topic"] == "dispatched"
    assert got.body["payload"]["address"] == "测试路0号"
    [row] = rows(db)
    assert row.delivered_at is not None and row.attempts == 1 and row.last_error is None
    # Nothing is sent again.
    assert deliver_due(db, delivery.Policy(timeout=5)).delivered == 0
    assert len(receiver.deliveries) == 1


def test_retries_back_off_on_the_clock_then_give_up_for_a_person(
    db: sa.Engine, receiver: Receiver
) -> None:
    outbox.configure([outbox.Receiver("hook", receiver.url())])
    policy = delivery.Policy(timeout=5, max_attempts=4, first_retry=30, max_retry=60)
    receiver.fail = 100
    with clock.frozen(START) as frozen:
        [message_id] = write_messages(db, 1)
        waits = []
        for _ in range(4):
            assert deliver_due(db, policy).failed_attempts == 1
            [row] = rows(db)
            if row.failed_at is not None:
                break
            waits.append((row.next_attempt_at - frozen.at).total_seconds())
            # Not due before its time: nothing is sent.
            frozen.advance(seconds=waits[-1] - 1)
            assert deliver_due(db, policy).failed_attempts == 0
            frozen.advance(seconds=1)
    assert waits == [30, 60, 60]  # doubling, capped at max_retry
    assert len(receiver.deliveries) == 4
    assert [d.headers["X-Gridgis-Attempt"] for d in receiver.deliveries] == ["1", "2", "3", "4"]
    assert row.failed_at is not None and row.delivered_at is None
    assert row.last_error == "HTTP 500 Internal Server Error"
    with Session(db) as session:
        state = delivery.status(session, ["hook"], now=clock.now())
    assert (state.pending, state.failed, state.delivered) == (0, 1, 0)
    # A person puts it back in line (audited), and the receiver is up again.
    receiver.fail = 0
    with unit_of_work(db) as session:
        assert delivery.retry_failed(session, [message_id], actor=cli_principal("ops")) == 1
    assert deliver_due(db, policy).delivered == 1
    assert receiver.accepted == {message_id: 1}
    with Session(db) as session:
        audit = session.scalars(sa.select(AuditEntry).where(AuditEntry.entity == "outbox")).one()
    assert (audit.actor, audit.action) == ("cli:ops", "retry")


def test_a_hanging_receiver_times_out_and_holds_up_no_other(
    db: sa.Engine, receiver: Receiver
) -> None:
    slow = start_receiver()
    try:
        slow.hang_on = 1
        outbox.configure(
            [outbox.Receiver("slow", slow.url()), outbox.Receiver("hook", receiver.url())]
        )
        write_messages(db, 3)  # three for each receiver
        tally = deliver_due(db, delivery.Policy(timeout=0.5))
    finally:
        slow.release.set()
        slow.server.shutdown()
        slow.server.server_close()
    assert (tally.delivered, tally.failed_attempts) == (3, 1)
    by_receiver = {(m.destination, m.delivered_at is not None, m.last_error) for m in rows(db)}
    assert by_receiver == {
        ("hook", True, None),
        ("slow", False, "no answer within 0.5 s"),  # tried once this pass
        ("slow", False, None),  # left for the next pass
    }


def test_a_wecom_robot_gets_markdown_and_its_errcode_counts(
    db: sa.Engine, receiver: Receiver
) -> None:
    robot = receiver.url("/cgi-bin/webhook/send?key=test-key")
    outbox.configure([outbox.Receiver("wecom", robot)])
    write_messages(db, 1, topic="escalated")
    receiver.answer = {"errcode": 45009, "errmsg": "api freq out of limit"}
    assert deliver_due(db, delivery.Policy(timeout=5)).failed_attempts == 1
    [row] = rows(db)
    assert row.last_error == "robot errcode 45009: api freq out of limit"
    body = receiver.deliveries[0].body
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith("**超时督办") and "测试路0号" in content
    assert row.message_id[:8] in content
    assert receiver.deliveries[0].headers["Idempotency-Key"] == row.message_id


def test_two_workers_never_send_the_same_message_at_once(db: sa.Engine, receiver: Receiver) -> None:
    outbox.configure([outbox.Receiver("hook", receiver.url())])
    ids = write_messages(db, 60)
    receiver.delay = 0.01
    tallies: list[int] = []
    workers = [
        threading.Thread(
            target=lambda: tallies.append(deliver_due(db, delivery.Policy(timeout=5)).delivered)
        )
        for _ in range(3)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert sum(tallies) == 60 and all(tallies)  # all three took part
    sent = Counter(d.headers["Idempotency-Key"] for d in receiver.deliveries)
    assert set(sent) == set(ids) and max(sent.values()) == 1


# --- Killing the worker: `gridgis worker` as a process, SIGKILLed and restarted. --------


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The worker processes a test starts; any still running at the end is killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def start_worker(
    started: list[subprocess.Popen[bytes]], receiver: Receiver, folder: Path, name: str
) -> subprocess.Popen[bytes]:
    """``gridgis worker`` against the test's database (DATABASE_URL) and ``receiver``."""
    env = {**os.environ, "GRIDGIS_WEBHOOKS": f"hook={receiver.url()}"}
    with (folder / f"{name}.out").open("wb") as out:
        process = subprocess.Popen(
            [
                str(GRIDGIS),
                "worker",
                "--timeout",
                "2",
                "--poll",
                "0.1",
                "--pidfile",
                str(folder / "worker.pid"),
                "--log-file",
                str(folder / "worker.log"),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    started.append(process)
    return process


def wait_for(
    condition: Any, seconds: float, what: str, process: subprocess.Popen[bytes], out: Path
) -> None:
    """Wait until ``condition()`` holds, failing early (with its output) if ``process`` died."""
    deadline = time.monotonic() + seconds
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the worker exited ({process.returncode}):\n{out.read_text()}")
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.05)


def test_killing_the_worker_loses_nothing_and_sends_nothing_twice(
    db: sa.Engine,
    receiver: Receiver,
    tmp_path: Path,
    workers: list[subprocess.Popen[bytes]],
) -> None:
    outbox.configure([outbox.Receiver("hook", receiver.url())])
    ids = write_messages(db, 40)
    receiver.hang_on = 5
    receiver.delay = 0.03

    # 1. Killed while the receiver holds the fifth message: it acted on it, and
    #    the worker never heard back.
    first = start_worker(workers, receiver, tmp_path, "first")
    wait_for(receiver.hanging.is_set, 60, "the hang", first, tmp_path / "first.out")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    receiver.hang_on = None
    receiver.release.set()
    in_flight = list(receiver.accepted)[-1]

    # 2. Restarted over its stale pidfile, and killed again at some moment mid-batch.
    second = start_worker(workers, receiver, tmp_path, "second")
    wait_for(lambda: len(receiver.accepted) >= 12, 60, "sending", second, tmp_path / "second.out")
    second.send_signal(signal.SIGKILL)
    second.wait(10)

    # 3. Restarted once more: it sends the rest, and the messages the dead workers held
    #    once their lease ends; then stops at SIGTERM, removing its pidfile.
    third = start_worker(workers, receiver, tmp_path, "third")
    wait_for(
        lambda: all(r.delivered_at for r in rows(db)), 90, "all", third, tmp_path / "third.out"
    )
    third.send_signal(signal.SIGTERM)
    assert third.wait(15) == 0
    assert not (tmp_path / "worker.pid").exists()

    # None lost: every message reached the receiver, and is marked delivered.
    assert set(receiver.accepted) == set(ids)
    assert all(r.failed_at is None for r in rows(db))
    # Nothing twice: a repeat always came under the id of the first sending, with the
    # same message, so the receiver recognised it; no message came under two ids.
    assert all(count == 1 for count in receiver.accepted.values())
    assert in_flight in receiver.repeats
    assert sum(receiver.repeats.values()) <= 2  # at most the message in flight at each kill
    by_id: dict[str, set[int]] = {}
    for d in receiver.deliveries:
        assert d.headers["Idempotency-Key"] == d.body["message_id"]
        by_id.setdefault(d.body["message_id"], set()).add(d.body["payload"]["n"])
    assert all(len(ns) == 1 for ns in by_id.values())
    assert sorted(n for ns in by_id.values() for n in ns) == list(range(40))
    # The log names messages by id, never their payload or the receiver's URL.
    log = (tmp_path / "worker.log").read_text(encoding="utf-8")
    assert "delivered message" in log and "worker stopped" in log
    assert "测试路" not in log and receiver.url() not in log


def test_the_commands_deliver_once_show_the_state_and_retry(
    db: sa.Engine, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from gridgis.cli import main

    monkeypatch.setenv("GRIDGIS_WEBHOOKS", f"hook={receiver.url()}")
    monkeypatch.setattr("getpass.getuser", lambda: "ops")
    outbox.configure([outbox.Receiver("hook", receiver.url())])
    write_messages(db, 2)
    receiver.fail, receiver.fail_status = 1, 503

    def gridgis(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    # The first message fails and is given up on at once; the receiver is then left
    # alone for the rest of the pass, so the second waits for the next.
    gridgis("worker", "--once", "--max-attempts", "1")
    assert receiver.accepted == {}
    status = gridgis("worker", "--status")
    assert "1 pending (1 due now, 0 being retried), 1 failed, 0 delivered" in status
    gridgis("worker", "--once")
    assert len(receiver.accepted) == 1
    status = gridgis("worker", "--status")
    assert "0 pending (0 due now, 0 being retried), 1 failed, 1 delivered" in status
    [failed] = [r for r in rows(db) if r.failed_at]
    assert f"{failed.message_id}  hook  dispatched  attempts 1" in status
    assert "HTTP 503 Service Unavailable" in status and "测试路" not in status
    listed = gridgis("outbox", "list", "--failed")
    assert failed.message_id in listed
    assert "1 message(s) back in line" in gridgis("outbox", "retry", "--all")
    gridgis("worker", "--once")
    assert set(receiver.accepted) == {r.message_id for r in rows(db)}
    assert "0 pending (0 due now), 0 failed, 2 delivered." in gridgis("outbox", "list")
