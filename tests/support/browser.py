"""A live server and a headless Chromium for the browser tests.

The server is the real app (werkzeug, a background thread, a free 127.0.0.1
port); the browser records every request, failure, script error and
Content-Security-Policy violation of its page, so a test can insist that a
page stayed on this host and broke no rule.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from tests.support.web import PASSWORD, TEST_SECRET_KEY
from web import create_app

CHROMIUM = Path("/usr/bin/chromium")
#: Marks for a module of browser tests: skipped, saying why, without Chromium.
BROWSER_TESTS = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (make system-test)"),
]

#: Records CSP violations from the first moment of every page (init scripts are not subject
#: to it). Playwright calls below pass functions, "() => ...": a bare expression would be
#: evaluated with eval(), which the policy refuses too.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
    e => window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline")));
"""


@contextmanager
def serve(database_url: str, **config: Any) -> Iterator[str]:
    """The app on ``database_url``, served on a free local port: yields its base URL."""
    # Rate limits on, as served; a fixed secret so that nothing is written under var/.
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET_KEY, **config})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["gridgis"].engine.dispose()


class Browser:
    """One Chromium page, with everything that went wrong on it recorded."""

    def __init__(self, playwright: Any, viewport: dict[str, int] | None = None) -> None:
        self.browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = self.browser.new_context(
            viewport=viewport or {"width": 900, "height": 640}, locale="zh-CN"
        )
        context.add_init_script(WATCH_CSP)
        self.page = context.new_page()
        self.requests: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        page = self.page
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append(r.url))
        page.on(
            "response",
            lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}"),
        )
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: m.type in ("error", "warning") and self.console.append(m.text))

    def log_in(self, base: str, username: str, *, screenshot: Path | None = None) -> None:
        page = self.page
        page.goto(base + "/", wait_until="networkidle")
        assert urlsplit(page.url).path == "/login"  # sent to the login page first
        assert page.title() == "登录 · gridgis"
        if screenshot is not None:
            page.screenshot(path=str(screenshot))
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state("networkidle")
        page.wait_for_function("() => window.L && window.gridgis && window.gridgis.map")

    def csp_violations(self) -> list[str]:
        return list(self.page.evaluate("() => window.__csp"))

    def click_map(self, lat: float, lon: float) -> str:
        page = self.page
        point = page.evaluate(
            f"() => {{ const p = window.gridgis.map.latLngToContainerPoint([{lat}, {lon}]);"
            " const r = document.querySelector('.folium-map').getBoundingClientRect();"
            " return [p.x + r.left, p.y + r.top]; }"
        )
        page.mouse.click(*point)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        return str(popup.inner_text())

    def close_popup(self) -> None:
        self.page.locator(".leaflet-popup-close-button").click()
        self.page.wait_for_function("() => !document.querySelector('.leaflet-popup')")

    def check_clean(self) -> None:
        assert not self.errors, self.errors
        assert not self.failed, self.failed
        assert not self.csp_violations()
        assert not [m for m in self.console if "Content Security Policy" in m], self.console
        hosts = {urlsplit(url).hostname for url in self.requests if not url.startswith("data:")}
        assert hosts == {"127.0.0.1"}, self.requests
