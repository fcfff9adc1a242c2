"""Sending one outbox message to its webhook over HTTP, and what the receiver answered.

A message goes out as a JSON ``POST`` with its id twice: in the body
(``message_id``) and in the ``Idempotency-Key`` and ``X-Gridgis-Message-Id``
headers. Delivery is at least once (a worker killed after the receiver
answered, before it marked the message, sends it again), so a receiver that
must not act twice keeps the ids it has seen.

Two shapes of body:

- an enterprise-WeChat group robot (企业微信群机器人: a URL on
  ``qyapi.weixin.qq.com``, or any URL whose path ends in
  ``/cgi-bin/webhook/send``) gets the robot's ``markdown`` message, in
  Chinese, with a short message id at the end so people can tell a repeat; a
  robot answers HTTP 200 even when it refuses, so only ``errcode`` 0 counts;
- any other receiver gets the message itself:
  ``{"message_id", "topic", "created_at", "payload"}``.

Nothing here logs: the caller logs the outcome by message id and receiver
name, never the payload or the URL (a robot's URL holds its key).
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gridgis import clock
from gridgis.incidents.outbox import Receiver
from gridgis.models import CHANNEL_TERMS, INCIDENT_STATUS_TERMS

#: Most of a receiver's answer read (a robot's JSON is tiny; nobody needs more).
MAX_ANSWER = 64 * 1024
#: A robot's markdown content is limited to 4096 bytes.
WECOM_MAX_BYTES = 4000
USER_AGENT = "gridgis-worker/1"

#: What a message announces, as a group chat reads it.
TITLES = {
    "dispatched": "事件派遣",
    "reopened": "事件重新派遣",
    "closed": "事件结案",
    "escalated": "超时督办",
}
DEADLINE_NAMES = {"response": "响应超时", "resolution": "办结超时"}


@dataclass(frozen=True)
class Message:
    """One outbox message as it is sent (a snapshot: sending happens outside transactions)."""

    id: int
    message_id: str
    destination: str
    topic: str
    payload: dict[str, Any]
    created_at: dt.datetime
    #: Which attempt this is (1 for the first).
    attempt: int


@dataclass(frozen=True)
class Outcome:
    """What came of one attempt: delivered or not, and a short reason fit for a log.

    ``detail`` never holds the URL or the payload: a status line, a robot's
    error code, or why no answer came.
    """

    delivered: bool
    detail: str


def is_wecom(url: str) -> bool:
    """Whether ``url`` is an enterprise-WeChat group robot's webhook."""
    parts = urlsplit(url)
    return parts.hostname == "qyapi.weixin.qq.com" or parts.path.endswith("/cgi-bin/webhook/send")


def body_for(receiver: Receiver, message: Message) -> dict[str, Any]:
    """The JSON body ``receiver`` gets for ``message``."""
    if is_wecom(receiver.url):
        return {"msgtype": "markdown", "markdown": {"content": wecom_text(message)}}
    return {
        "message_id": message.message_id,
        "topic": message.topic,
        "created_at": message.created_at.isoformat(),
        "payload": message.payload,
    }


def wecom_text(message: Message) -> str:
    """The robot's markdown: what happened to which incident, where, by when."""
    p = message.payload
    title = TITLES.get(message.topic, message.topic)
    if message.topic == "escalated":
        title += "：" + DEADLINE_NAMES.get(str(p.get("deadline")), "时限已过")
    place = " · ".join(
        f"{label} {p[key]}"
        for key, label in (("community", "社区"), ("grid", "网格"), ("building", "楼栋"))
        if p.get(key)
    )
    status = INCIDENT_STATUS_TERMS.get(str(p.get("status")))
    channel = CHANNEL_TERMS.get(str(p.get("channel")))
    due_key = "due_at" if message.topic == "escalated" else "resolution_due_at"
    lines = [
        f"**{title}** 事件 #{p.get('incident', '?')}",
        f"> {place}" if place else "",
        f"> 地址：{str(p['address'])[:200]}" if p.get("address") else "",
        f"> 状态：{status.zh}" if status else "",
        f"> 来源：{channel.zh}" if channel else "",
        f"> 时限：{_shown(p.get(due_key))}" if p.get(due_key) else "",
        f'<font color="comment">消息 {message.message_id[:8]}</font>',
    ]
    text = "\n".join(line for line in lines if line)
    return text.encode("utf-8")[:WECOM_MAX_BYTES].decode("utf-8", "ignore")


def _shown(value: object) -> str:
    try:
        return clock.show(dt.datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A webhook that redirects is misconfigured; following it would turn the
    # POST into a GET (or send the message somewhere nobody configured).
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(receiver: Receiver, message: Message, *, timeout: float) -> Outcome:
    """POST ``message`` to ``receiver``; delivered only on a 2xx (and a robot's errcode 0).

    Args:
        receiver: The configured webhook (its URL was checked to be http or https
            by :func:`gridgis.incidents.outbox.parse_receivers`).
        message: What to send.
        timeout: Seconds to wait to connect, and for each read of the answer.
    """
    data = json.dumps(body_for(receiver, message), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        receiver.url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": message.message_id,
            "X-Gridgis-Message-Id": message.message_id,
            "X-Gridgis-Topic": message.topic,
            "X-Gridgis-Attempt": str(message.attempt),
        },
    )
    try:
        # The scheme is http or https: parse_receivers refuses any other
        # (file:, ftp: ...), and the URL comes from the operator's settings.
        with _opener.open(request, timeout=timeout) as answer:
            status = answer.status
            text = answer.read(MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        exc.close()
        return Outcome(False, f"HTTP {exc.code} {exc.reason}".strip())
    except urllib.error.URLError as exc:
        return Outcome(False, _why(exc.reason, timeout))
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        return Outcome(False, _why(exc, timeout))
    if not 200 <= status < 300:
        return Outcome(False, f"HTTP {status}")
    if is_wecom(receiver.url):
        return _robot_outcome(status, text)
    return Outcome(True, f"HTTP {status}")


def _robot_outcome(status: int, text: bytes) -> Outcome:
    try:
        answer = json.loads(text)
        code = int(answer.get("errcode", -1))
    except (ValueError, TypeError, AttributeError):
        return Outcome(False, f"HTTP {status}, but not the robot's JSON answer")
    if code != 0:
        # 45009 is the robot's rate limit (20 messages a minute): retried later.
        return Outcome(False, f"robot errcode {code}: {str(answer.get('errmsg', ''))[:200]}")
    return Outcome(True, f"HTTP {status}, errcode 0")


def _why(reason: object, timeout: float) -> str:
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, OSError) and reason.strerror:
        return f"{type(reason).__name__}: {reason.strerror}"
    return type(reason).__name__ if isinstance(reason, BaseException) else str(reason)[:200]
