"""The dashboard's HTTP side without a browser: pages, runs, comparison, live API, the CLI."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from archlab.cli import main as archlab_main
from archlab.lab import registry, runner
from archlab.web.app import create_app
from archlab.web.store import ResultStore

QUICK = "design.regime_map"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(tmp_path / "results", tmp_path / "scratch"))


def test_claims_page_lists_every_claim_with_the_cli_s_last_verdict(
    tmp_path: Path, client: TestClient
) -> None:
    result = runner.run(registry.get(QUICK))
    result.save(tmp_path / "results")  # what `archlab run` does
    page = client.get("/").text
    ids = [e.id for e in registry.all_experiments()]
    positions = [page.index(f'data-id="{i}"') for i in ids]
    assert positions == sorted(positions)  # codex order
    row = page[page.index(f'data-id="{QUICK}"') :].split("</tr>")[0]
    assert f'class="verdict {result.verdict}"' in row


def test_a_run_streams_progress_and_is_saved_where_the_cli_looks(
    tmp_path: Path, client: TestClient
) -> None:
    reply = client.post("/api/run", json={"id": QUICK, "profile": "quick", "seed": "3"})
    assert reply.status_code == 200
    with client.stream("GET", reply.json()["events"]) as stream:
        body = "".join(stream.iter_text())
    assert "event: running" in body and "event: done" in body
    progress = [json.loads(c.split("data: ")[1]) for c in body.split("\n\n") if "progress" in c]
    assert progress and progress[-1]["completed"] == progress[-1]["total"]  # the model's cells
    done = json.loads(body.split("event: done\ndata: ")[1].split("\n")[0])
    saved = json.loads((tmp_path / "results" / f"{QUICK}.json").read_text())
    assert saved["verdict"] == done["verdict"] and saved["seed"] == 3
    page = client.get(f"/claims/{QUICK}").text
    assert f"archlab run {QUICK} --profile quick --seed 3" in page
    assert f'src="/claims/{QUICK}/figure/0?run=' in page
    assert client.get(f"/claims/{QUICK}/figure/99").status_code == 404
    svg = client.get(f"/claims/{QUICK}/figure/0")
    assert svg.headers["content-type"] == "image/svg+xml" and "<svg xmlns=" in svg.text


def test_bad_run_requests_are_refused_with_the_reason(client: TestClient) -> None:
    reply = client.post("/api/run", json={"id": "no.such", "profile": "quick"})
    assert reply.status_code == 400 and "no.such" in reply.json()["error"]
    reply = client.post("/api/run", json={"id": QUICK, "seed": "x"})
    assert reply.status_code == 400 and "seed" in reply.json()["error"]
    assert client.get("/claims/no.such").status_code == 404


def test_two_runs_compare_value_by_value(tmp_path: Path, client: TestClient) -> None:
    store = ResultStore(tmp_path / "results")
    exp = registry.get(QUICK)
    first = store.save(runner.run(exp, seed=1))
    time.sleep(0.01)
    second = store.save(runner.run(exp, seed=2))
    runs = store.runs(QUICK)
    assert {first, second} <= {r.path for r in runs}
    page = client.get("/compare", params={"a": first, "b": second}).text
    assert "after/before" in page and "seed" in page
    escape = client.get("/compare", params={"a": "../../etc/passwd", "b": second})
    assert escape.status_code == 400


def test_live_api_moves_acts_and_checks(client: TestClient) -> None:
    new = client.post("/api/live", json={"protocol": "raft", "seed": 1, "step": 150}).json()
    sid, state = new["sid"], new["state"]
    assert state["step"] == 150 and state["leader"]
    state = client.post(f"/api/live/{sid}/act", json={"kind": "write", "args": ["k0", "7"]}).json()[
        "state"
    ]
    state = client.post(f"/api/live/{sid}/step", json={"n": 100}).json()["state"]
    assert state["history"][-1]["type"] == "ok"
    assert client.get(f"/api/live/{sid}/check").json()["valid"] is True
    assert "<svg" in client.get(f"/live/{sid}/timeline").text
    bad = client.post(f"/api/live/{sid}/act", json={"kind": "crash", "args": ["n7"]})
    assert bad.status_code == 400
    assert client.post("/api/live/nope/step", json={}).status_code == 404
    assert client.get("/live").status_code == 200


def _archlab(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stop:
        archlab_main(list(args))
    out, err = capsys.readouterr()
    return int(stop.value.code or 0), out, err


def test_live_command_replays_and_checks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    actions = "150:write:k0:3,160:isolate:n0"
    code, out, _ = _archlab(
        capsys, "live", "raft", "--seed", "1", "--actions", actions, "--step", "500", "--check"
    )
    assert code == 0, out
    assert "linearizable" in out and "leader n" in out
    code, _, _ = _archlab(
        capsys,
        "live",
        "zab",
        "--actions",
        "200:write:k1:1",
        "--step",
        "300",
        "--timeline",
        str(tmp_path / "t.html"),
    )
    assert code == 0 and "<svg" in (tmp_path / "t.html").read_text()
    code, _, err = _archlab(capsys, "live", "raft", "--actions", "oops")
    assert code == 2 and "STEP:KIND" in err and "Traceback" not in err


def test_static_files_ship_inside_the_package() -> None:
    import archlab.web

    root = Path(archlab.web.__file__).parent
    for name in ("static/app.js", "static/live.js", "static/style.css", "templates/base.html"):
        assert (root / name).is_file(), name


def test_serve_without_the_extra_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "starlette", None)  # import starlette -> ImportError
    code, _, err = _archlab(capsys, "serve", "--port", "0")
    assert code == 2 and "pip install 'archlab[web]'" in err and err.count("\n") == 1
