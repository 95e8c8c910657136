"""Take the README's screenshots of `archlab serve` in Chromium (docs/dashboard-*.png).

    PYTHONPATH=src python scripts/dashboard-screenshots.py [RESULTS_DIR]

Serves the dashboard over RESULTS_DIR (default: results/) on a free loopback port, drives it as
a user would (a quick claim run, a Raft leader partitioned and healed) and saves small
palette PNGs under docs/. For the Real cluster page it starts a 3-node cluster in
.archlab-cluster-screenshots/ (removed afterwards).
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from archlab.runtime.cluster import create_cluster, free_ports, stop_cluster, wait_for_leader
from archlab.web.app import create_app

DOCS = Path("docs")


def save(page: Page, name: str) -> None:
    path = DOCS / f"dashboard-{name}.png"
    page.screenshot(path=str(path))
    image = Image.open(path).convert("RGB").quantize(colors=96)
    image.save(path, optimize=True)
    print(f"{path}: {path.stat().st_size // 1024} KiB")


def shoot(base: str) -> None:
    """Drive the pages as a user would and save the screenshots."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(base + "/")
        save(page, "claims")
        page.goto(base + "/claims/design.regime_map")
        with page.expect_navigation():  # the page reloads with the new result
            page.click("#run")
        page.wait_for_load_state("networkidle")
        page.set_viewport_size({"width": 1280, "height": 1000})
        page.evaluate("window.scrollTo(0, 0)")
        save(page, "claim")
        page.set_viewport_size({"width": 1280, "height": 800})
        page.goto(
            base + "/live?protocol=raft&seed=1&step=150&actions=150:write:k0:3,155:isolate:n0"
        )
        page.wait_for_function("document.querySelector('#clock').textContent.includes('step')")
        page.select_option("#speed", "100")
        for _ in range(4):
            page.click("#step")
            page.wait_for_timeout(100)
        page.click("#check")
        page.wait_for_function(
            "document.querySelector('#verdict-live').textContent.includes('linear')"
        )
        page.set_viewport_size({"width": 1280, "height": 1000})
        save(page, "live")
        phone = browser.new_page(viewport={"width": 390, "height": 844}, color_scheme="dark")
        phone.goto(page.url)
        phone.wait_for_function("document.querySelector('#clock').textContent.includes('step')")
        save(phone, "live-phone")
        page.set_viewport_size({"width": 1280, "height": 560})
        page.goto(base + "/cluster")
        page.wait_for_selector("#real-nodes td.role:text('leader')")
        page.fill("#kv-value", "42")
        page.click("#kv-put")
        page.wait_for_selector("#cluster-out:text('x := 42')")
        page.click("#real-nodes tr[data-node='2'] button.kill")
        page.wait_for_selector("#real-nodes tr[data-node='2'] td.state:text('down')")
        save(page, "real-cluster")
        browser.close()


def main() -> None:
    results = Path(sys.argv[1] if len(sys.argv) > 1 else "results")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cluster = create_cluster(".archlab-cluster-screenshots", "raft", 3, ports=free_ports(3))
    asyncio.run(wait_for_leader(cluster, 20))
    app = create_app(results, cluster=Path(cluster.directory))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        shoot(base)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        stop_cluster(cluster, wipe=True)


if __name__ == "__main__":
    main()
