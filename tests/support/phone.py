"""A phone for the browser tests of ``/my``: headless Chromium at 375×812, touch, a fixed position.

:class:`Phone` is :class:`tests.support.browser.Browser` on a phone: the same
records of script errors, failed requests and Content-Security-Policy
violations, plus the bytes each response took on the wire (Chromium's own
count: the encoded body and the headers).

:class:`LiveServer` serves the app on a fixed local port and can be stopped
and started again on it: the test cuts the network for real (connection
refused, for the page and its service worker alike), not only by the
browser's offline switch. It counts the bytes it writes, as a second measure.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from werkzeug.serving import BaseWSGIServer, make_server

from tests.support.browser import CHROMIUM, WATCH_CSP
from tests.support.web import PASSWORD, TEST_SECRET_KEY
from web import create_app

#: An iPhone X-sized screen (CSS pixels).
PHONE_VIEWPORT = {"width": 375, "height": 812}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class ByteCounter:
    """WSGI middleware: the bytes of every response body sent, by path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent: list[tuple[str, int]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        total = 0
        body = self.app(environ, start_response)
        try:
            for chunk in body:
                total += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()  # what a WSGI server must do: static files are closed here
            self.sent.append((path, total))


class LiveServer:
    """The app on 127.0.0.1 at a port of its own, stoppable and startable again."""

    def __init__(self, database_url: str, **config: Any) -> None:
        self.app = create_app(
            {"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET_KEY, **config}
        )
        self.counter = ByteCounter(self.app.wsgi_app)
        self.app.wsgi_app = self.counter  # type: ignore[method-assign]
        self.server: BaseWSGIServer | None = None
        self.thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Close the port: every request now fails as without a network."""
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.server = None

    def close(self) -> None:
        self.stop()
        self.app.extensions["gridgis"].engine.dispose()


@contextmanager
def live_server(database_url: str, **config: Any) -> Iterator[LiveServer]:
    server = LiveServer(database_url, **config)
    server.start()
    try:
        yield server
    finally:
        server.close()


class Phone:
    """One Chromium page on a phone-sized touch screen, standing at ``position`` (lat, lon).

    ``cookies`` (from another phone's ``context.cookies()``) start it logged in,
    with nothing in its cache: a cold load of a page behind the login.
    """

    def __init__(
        self,
        playwright: Any,
        position: tuple[float, float],
        *,
        cookies: list[dict[str, Any]] | None = None,
    ) -> None:
        self.browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        self.context = self.browser.new_context(
            viewport=PHONE_VIEWPORT,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
            locale="zh-CN",
            geolocation={"latitude": position[0], "longitude": position[1], "accuracy": 8},
            permissions=["geolocation"],
        )
        self.context.add_init_script(WATCH_CSP)
        if cookies:  # logged in already: a cold cache, but a session
            self.context.add_cookies(cookies)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        self.responses: list[Any] = []
        page = self.page
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append(f"{r.failure} {r.url}"))
        page.on("response", self._response)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: m.type in ("error", "warning") and self.console.append(m.text))

    def _response(self, response: Any) -> None:
        self.responses.append(response)
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")

    def log_in(self, base: str, username: str) -> None:
        """Through the login form, as a person would; lands where the app sends them."""
        page = self.page
        page.goto(base + "/", wait_until="networkidle")
        assert urlsplit(page.url).path == "/login"
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state("networkidle")

    def bytes_since(self, start: int) -> list[tuple[str, int]]:
        """(URL, bytes on the wire: encoded body and headers) of the responses from ``start`` on."""
        out = []
        for response in self.responses[start:]:
            sizes = response.request.sizes()
            out.append((response.url, sizes["responseBodySize"] + sizes["responseHeadersSize"]))
        return out

    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("() => window.__csp"))

    def check_clean(self, *, allow_failed: Iterable[str] = ()) -> None:
        """No script error, CSP violation, or failed request (but those expected), one host."""
        allowed = tuple(allow_failed)
        assert not self.errors, self.errors
        assert not [f for f in self.failed if not any(a in f for a in allowed)], self.failed
        assert not self.csp_violations()
        assert not [m for m in self.console if "Content Security Policy" in m], self.console
        hosts = {urlsplit(url).hostname for url in self.requests if not url.startswith("data:")}
        assert hosts <= {"127.0.0.1"}, self.requests

    def close(self) -> None:
        self.browser.close()
