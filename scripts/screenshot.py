"""Screenshot a gridgis page in headless Chromium (for the README and for looking).

    GRIDGIS_USER=demoadmin GRIDGIS_PASSWORD=... \
    .venv/bin/python scripts/screenshot.py http://127.0.0.1:5000/ docs/overview.png [WxH]

With GRIDGIS_USER set, it logs in through the login form first.
"""

import os
import sys
from urllib.parse import urljoin

from playwright.sync_api import sync_playwright

url, out = sys.argv[1], sys.argv[2]
width, height = (int(v) for v in (sys.argv[3] if len(sys.argv) > 3 else "1200x760").split("x"))
with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )
    page = browser.new_page(viewport={"width": width, "height": height})
    outside: list[str] = []
    page.on(
        "request",
        lambda r: (
            None if "127.0.0.1" in r.url or r.url.startswith("data:") else outside.append(r.url)
        ),
    )
    if os.environ.get("GRIDGIS_USER"):
        page.goto(urljoin(url, "/login"), wait_until="networkidle")
        page.fill("input[name=username]", os.environ["GRIDGIS_USER"])
        page.fill("input[name=password]", os.environ.get("GRIDGIS_PASSWORD", ""))
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(500)
    page.screenshot(path=out)
    browser.close()
print(f"{out}: {width}x{height}; requests leaving 127.0.0.1: {outside or 'none'}")
