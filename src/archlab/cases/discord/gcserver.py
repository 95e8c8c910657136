"""A read server whose pauses come from CPython's cyclic garbage collector (codex 10.2).

Discord left Cassandra because the JVM's collector paused the whole node and set its tail
latency; ScyllaDB runs one shard per core with no collector. This server reproduces the cause
in CPython: it holds a large live heap of message objects (the data set) and its read path is
allocation-heavy: each read renders messages into fresh dictionaries with reference cycles and
keeps the result in a bounded cache, so objects survive into the oldest generation and full
collections run every so often, each walking the whole heap while holding the GIL: every
thread of the process stops.

Run as one shared process (many threads, every key) or as one process per core owning a key
range with its heap frozen (:func:`gc.freeze` after loading moves the data set out of the
collector's reach, so a full collection only walks what was allocated since). Every
collection is timed with :data:`gc.callbacks` on the monotonic clock, which the client shares,
so it can tell which slow reads overlapped a pause.

Protocol: one line per request, ``GET <key>`` answered ``OK <n>``; ``STATS`` answered with one
JSON line of the pauses. Started as ``python -m archlab.cases.discord.gcserver``, it prints
``READY <port>`` and serves until its standard input closes.
"""

from __future__ import annotations

import argparse
import gc
import json
import socketserver
import sys
import threading
import time
from typing import Any

#: Pauses shorter than this are counted, not listed.
LISTED_PAUSE_S = 0.0005


class Message:
    def __init__(self, channel: int, number: int) -> None:
        self.channel = channel
        self.id = channel * 1_000_000 + number
        self.author = f"user{number % 977}"
        self.content = f"message {number} in channel {channel}"
        self.reactions: list[str] = []


class ReadServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, first: int, last: int, per_key: int, cache_slots: int) -> None:
        self.data = {c: [Message(c, n) for n in range(per_key)] for c in range(first, last)}
        self.cache: list[object] = [None] * cache_slots
        self.next_slot = 0
        self.lock = threading.Lock()
        self.pauses: list[tuple[float, float, int]] = []
        self.short_pauses = 0
        self.gc_seconds = 0.0
        self._gc_start = 0.0
        gc.callbacks.append(self._on_gc)
        super().__init__(("127.0.0.1", 0), _Handler)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        now = time.monotonic()
        if phase == "start":
            self._gc_start = now
            return
        took = now - self._gc_start
        self.gc_seconds += took
        if took >= LISTED_PAUSE_S:
            self.pauses.append((self._gc_start, now, int(info["generation"])))
        else:
            self.short_pauses += 1

    def render(self, channel: int) -> int:
        """The allocation-heavy read: fresh cyclic dictionaries, kept in a bounded cache."""
        messages = self.data.get(channel, [])
        rendered: list[dict[str, object]] = []
        for message in messages:
            node: dict[str, object] = {
                "id": message.id,
                "author": message.author,
                "content": message.content,
                "reactions": list(message.reactions),
            }
            node["channel"] = rendered  # a cycle: only the cyclic collector frees it
            rendered.append(node)
        with self.lock:
            self.cache[self.next_slot] = rendered
            self.next_slot = (self.next_slot + 1) % len(self.cache)
        return len(rendered)

    def reset(self) -> None:
        """Forget the collections of loading: only serving is measured."""
        self.pauses.clear()
        self.short_pauses = 0
        self.gc_seconds = 0.0

    def stats(self) -> dict[str, Any]:
        return {
            "pauses": self.pauses,
            "short_pauses": self.short_pauses,
            "gc_seconds": self.gc_seconds,
            "tracked_objects": len(gc.get_objects()),
            "frozen_objects": gc.get_freeze_count(),
        }


class _Handler(socketserver.StreamRequestHandler):
    server: ReadServer

    def handle(self) -> None:
        for line in self.rfile:
            parts = line.split()
            if parts[:1] == [b"STATS"]:
                self.wfile.write(json.dumps(self.server.stats()).encode() + b"\n")
            elif len(parts) == 2 and parts[0] == b"GET" and parts[1].isdigit():
                self.wfile.write(b"OK %d\n" % self.server.render(int(parts[1])))
            else:
                self.wfile.write(b"ERR expected 'GET <channel number>' or 'STATS'\n")
            self.wfile.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m archlab.cases.discord.gcserver")
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--last", type=int, required=True)
    parser.add_argument("--per-key", type=int, default=50)
    parser.add_argument("--cache", type=int, default=1000)
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after loading")
    args = parser.parse_args(argv)
    server = ReadServer(args.first, args.last, args.per_key, args.cache)
    if args.freeze:
        gc.collect()
        gc.freeze()
    server.reset()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"READY {server.server_address[1]}", flush=True)
    sys.stdin.read()  # serve until the parent closes our standard input
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
