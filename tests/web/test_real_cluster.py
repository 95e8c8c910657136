"""The Real cluster page attached to three real server processes: status, kill, start, put/get."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from archlab.runtime.cluster import ClusterSpec, stop_cluster
from archlab.web.app import create_app
from tests.runtime.conftest import start_cluster
from tests.web.conftest import shot


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterSpec]:
    # in a thread of its own: Playwright's sync API keeps an event loop running in this one
    with ThreadPoolExecutor(1) as pool:
        spec = pool.submit(start_cluster, tmp_path_factory.mktemp("cluster")).result()
    try:
        yield spec
    finally:
        # the page restarted a node: its new pid is in the cluster file, not in `spec`
        stop_cluster(ClusterSpec.load(spec.directory), wipe=True)


def test_the_page_kills_and_restarts_the_leader_and_writes_through_the_cluster(
    real: ClusterSpec, browser: Any, tmp_path: Path
) -> None:
    import threading
    import time

    import uvicorn

    from tests.web.conftest import _free_port

    app = create_app(tmp_path / "results", cluster=Path(real.directory))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    page = browser.new_page(viewport={"width": 1280, "height": 700})
    try:
        while not server.started:
            time.sleep(0.02)
        page.goto(f"http://127.0.0.1:{port}/cluster")
        page.wait_for_selector("#real-nodes td.role:text('leader')", timeout=10_000)
        leader = page.locator("#real-nodes tr:has(td.role:text('leader'))").get_attribute(
            "data-node"
        )
        page.fill("#kv-key", "x")
        page.fill("#kv-value", "42")
        page.click("#kv-put")
        page.wait_for_selector("#cluster-out:text('x := 42')")
        page.click(f"#real-nodes tr[data-node='{leader}'] button.kill")
        page.wait_for_selector(f"#real-nodes tr[data-node='{leader}'] td.state:text('down')")
        page.wait_for_function(  # another node leads
            "[...document.querySelectorAll('#real-nodes tr')].some(r => r.dataset.node !== "
            f"'{leader}' && r.querySelector('td.role')?.textContent === 'leader')",
            timeout=15_000,
        )
        page.click("#kv-get")
        page.wait_for_selector("#cluster-out:text('x = 42')")
        shot(page, "real-cluster")
        page.click(f"#real-nodes tr[data-node='{leader}'] button.start")
        page.wait_for_selector(
            f"#real-nodes tr[data-node='{leader}'] td.state:text('up')", timeout=15_000
        )
    finally:
        page.close()
        server.should_exit = True
        thread.join(timeout=10)


def test_without_a_cluster_the_api_says_how_to_start_one(tmp_path: Path) -> None:
    client = TestClient(create_app(tmp_path / "results", cluster=tmp_path / "none"))
    reply = client.get("/api/cluster")
    assert reply.status_code == 404 and "archlab cluster up" in reply.json()["error"]
    assert client.get("/cluster").status_code == 200
