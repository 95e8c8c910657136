"""Fixtures of the dashboard tests: the app served on loopback, and Debian's Chromium."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
#: Screenshots: CI keeps results/ as an artifact.
SHOTS = Path("results/screenshots")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The dashboard over an empty results directory, in a thread; its base URL."""
    uvicorn = pytest.importorskip("uvicorn")
    from archlab.web.app import create_app

    results = tmp_path_factory.mktemp("results")
    app = create_app(results, tmp_path_factory.mktemp("scratch"))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail("the dashboard did not start within 10 s")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}", results
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium driven by Playwright; skipped, with the reason, where it cannot start.

    Module-scoped: Playwright's sync API keeps an event loop running on the main thread while
    it is open, so a session-long browser would break every later test that runs a loop of
    its own ("Cannot run the event loop while another loop is running") in any order but
    the default one."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    with sync_api.sync_playwright() as p:
        try:
            chromium = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
        except Exception as exc:  # playwright raises its own Error types
            pytest.skip(f"chromium cannot be launched: {str(exc).splitlines()[0]}")
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
