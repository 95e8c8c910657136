"""Three instrumented services in three processes, exporting to the collector (codex 9.1).

``frontend`` calls ``checkout``, which calls ``payments``; each is a small HTTP server in its
own process, instrumented with the OpenTelemetry SDK, propagating the W3C ``traceparent``
header on every call and exporting its spans over OTLP/HTTP to the collector. ``payments``
fails a share of requests (error status, HTTP 500) and is slow on another share, so the
collector has errors and slow traces to catch, each assembled from spans of three processes.

:func:`run_demo` starts the collector, the three services and a client, and returns what the
collector kept; ``archlab traces demo`` prints it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SERVICES = ("frontend", "checkout", "payments")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def serve_service(
    name: str,
    port: int,
    downstream: str | None,
    collector: str,
    error_rate: float,
    slow_rate: float,
    seed: int,
) -> None:
    """Run one instrumented service until SIGTERM (then flush its spans and exit)."""
    from opentelemetry import propagate
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    provider = TracerProvider(resource=Resource({"service.name": name}))
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=collector), schedule_delay_millis=200)
    )
    tracer = provider.get_tracer(f"archlab.demo.{name}")
    rng = random.Random(seed)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            context = propagate.extract({k.lower(): v for k, v in self.headers.items()})
            status = 200
            with tracer.start_as_current_span(
                f"GET {self.path}", context=context, kind=SpanKind.SERVER
            ) as span:
                if downstream is not None:
                    headers: dict[str, str] = {}
                    with tracer.start_as_current_span(
                        "call " + downstream.split("/")[-1], kind=SpanKind.CLIENT
                    ):
                        propagate.inject(headers)
                        try:
                            req = urllib.request.Request(downstream, headers=headers)
                            with urllib.request.urlopen(req, timeout=10) as reply:
                                reply.read()
                        except urllib.error.HTTPError as exc:
                            status = exc.code
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR, "downstream failed"))
                else:
                    draw = rng.random()
                    if draw < error_rate:
                        status = 500
                        span.set_status(Status(StatusCode.ERROR, "card declined by the bank"))
                    elif draw < error_rate + slow_rate:
                        time.sleep(0.3)
                    else:
                        time.sleep(0.002)
            body = json.dumps({"service": name, "status": status}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)

    def stop(*_: object) -> None:
        server.shutdown()

    signal.signal(signal.SIGTERM, lambda *_: __import__("threading").Thread(target=stop).start())
    server.serve_forever()
    provider.shutdown()  # flushes what the batch processor still holds


@dataclass(frozen=True)
class DemoResult:
    requests: int
    failed_requests: int
    stats: dict[str, int]
    services_per_kept_trace: dict[str, int]  # trace id -> services seen
    error_traces_kept: int


def _wait_up(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"a demo service did not start on port {port}")


def run_demo(
    requests: int = 200,
    error_rate: float = 0.02,
    slow_rate: float = 0.03,
    keep_share: float = 0.0,
    output: Path | None = None,
    seed: int = 0,
) -> DemoResult:
    """Collector + three service processes + a client; returns what the collector kept."""
    from archlab.observability.collector import Collector
    from archlab.observability.sampling import (
        any_of,
        latency_at_least,
        probabilistic,
        status_code_error,
    )

    policy = any_of(status_code_error(), latency_at_least(0.25), probabilistic(keep_share))
    ports = {name: _free_port() for name in SERVICES}
    with Collector(policy, decision_wait=1.0, output=output) as collector:
        procs = []
        env = dict(os.environ)
        for i, name in enumerate(SERVICES):
            downstream = (
                f"http://127.0.0.1:{ports[SERVICES[i + 1]]}/{SERVICES[i + 1]}"
                if i + 1 < len(SERVICES)
                else None
            )
            code = (
                "from archlab.observability.demo import serve_service; "
                f"serve_service({name!r}, {ports[name]}, {downstream!r}, {collector.url!r}, "
                f"{error_rate}, {slow_rate}, {seed + i})"
            )
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", code],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
        try:
            deadline = time.monotonic() + 30
            for name in SERVICES:
                _wait_up(ports[name], deadline)
            failed = 0
            for _ in range(requests):
                try:
                    url = f"http://127.0.0.1:{ports['frontend']}/checkout"
                    with urllib.request.urlopen(url, timeout=10) as reply:
                        reply.read()
                except urllib.error.HTTPError:
                    failed += 1
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        time.sleep(1.5)  # the last traces' decision wait
        collector.processor.tick(time.time_ns())
    services: dict[int, set[str]] = {}
    errors: set[int] = set()
    for span in collector.exporter.spans:
        services.setdefault(span.context.trace_id, set()).add(
            str(span.resource.attributes.get("service.name"))
        )
        if span.status.status_code.name == "ERROR":
            errors.add(span.context.trace_id)
    return DemoResult(
        requests,
        failed,
        collector.stats(),
        {f"{tid:032x}": len(names) for tid, names in services.items()},
        len(errors),
    )
