"""Haystack's HTTP API over one volume (codex 10.4), on the standard library's HTTP server.

``PUT /photo/<key>/<alt>`` stores the body and answers ``201`` with JSON naming the photo's
URL, which carries a fresh random cookie: ``/photo/<key>/<alt>/<cookie hex>``.
``GET`` on that URL answers the photo (``200``, ``image/jpeg``); ``DELETE`` flags it deleted
(``204``). A wrong cookie, like an unknown or deleted photo, gets ``404``, so a URL cannot be
guessed from a key. Malformed paths get ``400``. Requests are served by threads over one
volume behind a lock.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from archlab.cases.haystack.needle import MAX_DATA, NeedleError
from archlab.cases.haystack.volume import Volume

_PATH = re.compile(r"^/photo/(\d{1,19})/(\d{1,10})(?:/([0-9a-f]{16}))?$")


class HaystackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, directory: str | Path, port: int = 0, sync: bool = False) -> None:
        self.volume = Volume(directory, sync=sync)
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def server_close(self) -> None:
        super().server_close()
        with self.lock:
            self.volume.close()


class _Handler(BaseHTTPRequestHandler):
    server: HaystackServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def _route(self, need_cookie: bool) -> tuple[int, int, int] | None:
        match = _PATH.match(self.path)
        if match is None or (match.group(3) is None) == need_cookie:
            self._reply(HTTPStatus.BAD_REQUEST, b"expected /photo/<key>/<alt>[/<cookie>]\n")
            return None
        key, alt = int(match.group(1)), int(match.group(2))
        if key >= 2**64 or alt >= 2**32:
            self._reply(HTTPStatus.BAD_REQUEST, b"key must fit 64 bits, alt key 32 bits\n")
            return None
        return key, alt, int(match.group(3) or "0", 16)

    def do_GET(self) -> None:
        route = self._route(need_cookie=True)
        if route is None:
            return
        with self.server.lock:
            data = self.server.volume.get(*route)
        if data is None:
            self._reply(HTTPStatus.NOT_FOUND, b"no such photo\n")
        else:
            self._reply(HTTPStatus.OK, data, "image/jpeg")

    def do_DELETE(self) -> None:
        route = self._route(need_cookie=True)
        if route is None:
            return
        with self.server.lock:
            gone = self.server.volume.delete(*route)
        self._reply(HTTPStatus.NO_CONTENT if gone else HTTPStatus.NOT_FOUND, b"")

    def do_PUT(self) -> None:
        route = self._route(need_cookie=False)
        if route is None:
            return
        length = int(self.headers.get("Content-Length", "-1"))
        if not 0 <= length <= MAX_DATA:
            self._reply(HTTPStatus.BAD_REQUEST, b"Content-Length missing or above 16 MiB\n")
            return
        body = self.rfile.read(length)
        key, alt, _ = route
        cookie = secrets.randbits(64)
        try:
            with self.server.lock:
                self.server.volume.put(key, alt, cookie, body)
        except NeedleError as exc:
            self._reply(HTTPStatus.BAD_REQUEST, f"{exc}\n".encode())
            return
        answer = {
            "key": key,
            "alt": alt,
            "cookie": f"{cookie:016x}",
            "url": f"/photo/{key}/{alt}/{cookie:016x}",
        }
        self._reply(HTTPStatus.CREATED, json.dumps(answer).encode(), "application/json")

    def _reply(self, status: HTTPStatus, body: bytes, kind: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
