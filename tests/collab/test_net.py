"""Real processes over real WebSockets: kill the server; OT stalls, CRDT peers converge."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("websockets")

SRC = str(Path(__file__).resolve().parents[2] / "src")


class Proc:
    """A ``python -m archlab.cli collab ...`` process whose stdout lines are collected."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.p = subprocess.Popen(
            [sys.executable, "-m", "archlab.cli", "collab", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.seen):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {text!r} in {self.seen}")
            try:
                self.seen.append(self.lines.get(timeout=left))
            except queue.Empty:
                continue

    def finish(self, timeout: float = 60.0) -> dict[str, object]:
        assert self.p.stdin is not None
        self.p.stdin.close()
        self.p.wait(timeout=timeout)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return json.loads(self.seen[-1])  # type: ignore[no-any-return]

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def editors(
    port: int, mode: str, *, edits: int, linger: float, replicas: bool = False
) -> list[Proc]:
    """Three editing clients of the server on ``port``, seeded 1-3, each waiting for stdin."""
    clients = []
    for i in (1, 2, 3):
        replica = ("--replica", str(i)) if replicas else ()
        clients.append(
            Proc(
                "client",
                f"ws://127.0.0.1:{port}",
                "--mode",
                mode,
                *replica,
                "--edits",
                str(edits),
                "--interval",
                "0.05",
                "--seed",
                str(i),
                "--wait-stdin",
                "--linger",
                str(linger),
            )
        )
    return clients


def test_crdt_peers_keep_editing_without_the_server_and_converge_when_it_returns() -> None:
    port = free_port()
    server = Proc("serve", "--mode", "crdt", "--port", str(port))
    clients: list[Proc] = []
    try:
        server.wait_for("serving")
        clients = editors(port, "crdt", edits=60, linger=2.0, replicas=True)
        for c in clients:
            c.wait_for("connected")
        time.sleep(0.4)
        server.kill()
        for c in clients:
            c.wait_for("disconnected")
        time.sleep(0.3)
        server = Proc("serve", "--mode", "crdt", "--port", str(port))
        server.wait_for("serving")
        for c in clients:
            c.wait_for("edits done")
        results = [c.finish() for c in clients]
    finally:
        for c in clients:
            c.kill()
        server.kill()
    texts = {r["text"] for r in results}
    assert len(texts) == 1 and texts != {""}
    assert all(int(r["reconnects"]) >= 1 and r["pending"] == 0 for r in results)  # type: ignore[call-overload]


def test_crdt_peers_sync_directly_without_any_server() -> None:
    nowhere, direct = free_port(), free_port()
    a = Proc(
        "client",
        f"ws://127.0.0.1:{nowhere}",
        "--mode",
        "crdt",
        "--replica",
        "1",
        "--listen",
        str(direct),
        "--edits",
        "30",
        "--interval",
        "0.02",
        "--wait-stdin",
    )
    b: Proc | None = None
    try:
        a.wait_for("listening")
        b = Proc(
            "client",
            f"ws://127.0.0.1:{direct}",
            "--mode",
            "crdt",
            "--replica",
            "2",
            "--edits",
            "30",
            "--interval",
            "0.02",
            "--seed",
            "7",
            "--wait-stdin",
        )
        for c in (a, b):
            c.wait_for("edits done")
        ra, rb = a.finish(), b.finish()
    finally:
        a.kill()
        if b is not None:
            b.kill()
    assert ra["text"] == rb["text"] and ra["text"]


def test_ot_edits_stall_once_the_server_is_killed() -> None:
    port = free_port()
    server = Proc("serve", "--mode", "ot", "--port", str(port))
    clients: list[Proc] = []
    try:
        server.wait_for("serving")
        clients = editors(port, "ot", edits=40, linger=0.2)
        for c in clients:
            c.wait_for("connected")
        time.sleep(0.4)
        server.kill()
        for c in clients:
            c.wait_for("edits done")
        results = [c.finish() for c in clients]
    finally:
        for c in clients:
            c.kill()
        server.kill()
    for r in results:
        assert int(r["uncommitted"]) > 0, "edits after the kill cannot be committed"  # type: ignore[call-overload]
        assert r["state"] != "synchronized"


def test_a_client_replays_a_trace_and_a_late_peer_receives_its_final_text(tmp_path: Path) -> None:
    from archlab.collab import traces

    trace = traces.generated(400, seed=2)
    path = tmp_path / "trace.json"
    txns = [{"patches": [list(p) for p in t]} for t in trace.txns]
    path.write_text(json.dumps({"startContent": "", "endContent": trace.end, "txns": txns}))
    port = free_port()
    server = Proc("serve", "--mode", "crdt", "--port", str(port))
    writer: Proc | None = None
    try:
        server.wait_for("serving")
        url = f"ws://127.0.0.1:{port}"
        writer = Proc("client", url, "--mode", "crdt", "--replica", "5", "--replay", str(path))
        written = writer.finish()
        reader = Proc("client", url, "--mode", "crdt", "--replica", "6", "--linger", "1")
        read = reader.finish()
    finally:
        if writer is not None:
            writer.kill()
        server.kill()
    assert written["text"] == read["text"] == trace.end


def test_servers_refuse_bad_updates_and_keep_serving() -> None:
    import asyncio

    from websockets.asyncio.client import connect

    ot_port, crdt_port = free_port(), free_port()
    ot = Proc("serve", "--mode", "ot", "--port", str(ot_port))
    crdt = Proc("serve", "--mode", "crdt", "--port", str(crdt_port))

    async def poke() -> None:
        async with connect(f"ws://127.0.0.1:{crdt_port}") as ws:
            await ws.recv()  # hello
            await ws.send(b"ACU1\x05garbage")
        async with connect(f"ws://127.0.0.1:{ot_port}") as ws:
            await ws.recv()
            await ws.send('{"type": "submit", "revision": 9, "op": [3]}')
            await ws.wait_closed()

    try:
        ot.wait_for("serving")
        crdt.wait_for("serving")
        asyncio.run(poke())
        crdt.wait_for("refused an update")
        ot.wait_for("refused client c1")
        c = Proc("client", f"ws://127.0.0.1:{crdt_port}", "--mode", "crdt", "--type", "still here")
        assert c.finish()["text"] == "still here"
    finally:
        ot.kill()
        crdt.kill()
