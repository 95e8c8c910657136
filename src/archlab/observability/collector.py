"""An OTLP/HTTP trace collector that tail-samples across processes (codex 9.1).

Services instrumented with the OpenTelemetry SDK export their spans to ``POST /v1/traces``
(OTLP over HTTP, protobuf, as ``opentelemetry-exporter-otlp-proto-http`` sends them). The
collector decodes each ``ExportTraceServiceRequest`` into SDK spans and feeds them to one
:class:`~archlab.observability.sampling.TailSamplingProcessor`, so a trace is decided on its
spans from every service, the way the OpenTelemetry Collector's tail-sampling processor
works. A timer decides traces whose wait is over even when no new span arrives.

Kept spans go to a JSON Lines file (one span a line) if one is given. ``GET /stats`` answers
the counts as JSON. A body that is not a valid export request gets ``400`` with a one-line
reason and the collector keeps serving everyone else.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from archlab.observability.sampling import Policy, TailSamplingProcessor


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind)


def spans_of(request: ExportTraceServiceRequest) -> list[ReadableSpan]:
    """The SDK spans an OTLP export request carries, with their service's resource."""
    out = []
    for rs in request.resource_spans:
        resource = Resource({kv.key: _value(kv.value) for kv in rs.resource.attributes})
        for ss in rs.scope_spans:
            for s in ss.spans:
                if len(s.trace_id) != 16 or len(s.span_id) != 8:
                    raise ValueError("a span without a 16-byte trace id and an 8-byte span id")
                trace_id = int.from_bytes(s.trace_id, "big")
                context = SpanContext(
                    trace_id,
                    int.from_bytes(s.span_id, "big"),
                    is_remote=True,
                    trace_flags=TraceFlags(TraceFlags.SAMPLED),
                )
                parent = None
                if s.parent_span_id:
                    parent = SpanContext(
                        trace_id, int.from_bytes(s.parent_span_id, "big"), is_remote=True
                    )
                code = {1: StatusCode.OK, 2: StatusCode.ERROR}.get(s.status.code, StatusCode.UNSET)
                out.append(
                    ReadableSpan(
                        name=s.name,
                        context=context,
                        parent=parent,
                        resource=resource,
                        attributes={kv.key: _value(kv.value) for kv in s.attributes},
                        kind=SpanKind(max(0, s.kind - 1)),
                        status=Status(code, s.status.message or None),
                        start_time=s.start_time_unix_nano,
                        end_time=s.end_time_unix_nano,
                    )
                )
    return out


class JsonLinesExporter(SpanExporter):
    """Kept spans, one JSON object a line (trace id, span id, parent, service, name, times)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.spans: list[ReadableSpan] = []
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self.spans.extend(spans)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as f:
                    for s in spans:
                        f.write(
                            json.dumps(
                                {
                                    "trace_id": f"{s.context.trace_id:032x}",
                                    "span_id": f"{s.context.span_id:016x}",
                                    "parent_id": f"{s.parent.span_id:016x}" if s.parent else None,
                                    "service": s.resource.attributes.get("service.name"),
                                    "name": s.name,
                                    "start": s.start_time,
                                    "end": s.end_time,
                                    "error": s.status.status_code == StatusCode.ERROR,
                                }
                            )
                            + "\n"
                        )
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


class Collector:
    """``with Collector(policy) as c: ... c.url``: a tail-sampling OTLP/HTTP endpoint."""

    def __init__(
        self,
        policy: Policy,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        decision_wait: float = 2.0,
        num_traces: int = 50_000,
        output: Path | None = None,
    ) -> None:
        self.exporter = JsonLinesExporter(output)
        self.processor = TailSamplingProcessor(self.exporter, policy, decision_wait, num_traces)
        self.received = 0
        self.rejected = 0
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _answer(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path != "/stats":
                    self._answer(
                        404, b'{"error": "try GET /stats or POST /v1/traces"}', "application/json"
                    )
                    return
                self._answer(200, json.dumps(collector.stats()).encode(), "application/json")

            def do_POST(self) -> None:
                if self.path != "/v1/traces":
                    self._answer(404, b'{"error": "POST /v1/traces"}', "application/json")
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    if self.headers.get("Content-Encoding") == "gzip":
                        body = gzip.decompress(body)
                    request = ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    spans = spans_of(request)
                except (DecodeError, ValueError, OSError, EOFError) as exc:
                    collector.rejected += 1
                    reason = f"not an OTLP ExportTraceServiceRequest: {exc}".splitlines()[0]
                    self._answer(400, json.dumps({"error": reason}).encode(), "application/json")
                    return
                for span in spans:
                    collector.processor.on_end(span)
                collector.received += len(spans)
                reply = ExportTraceServiceResponse().SerializeToString()
                self._answer(200, reply, "application/x-protobuf")

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{name}:{port}/v1/traces"

    def stats(self) -> dict[str, int]:
        s = self.processor.stats
        return {
            "spans_received": self.received,
            "requests_rejected": self.rejected,
            "traces_kept": s.traces_kept,
            "traces_dropped": s.traces_dropped,
            "traces_evicted": s.traces_evicted,
            "spans_kept": s.spans_kept,
            "late_spans": s.late_spans,
        }

    def _timer(self) -> None:
        while not self._stop.wait(0.2):
            self.processor.tick(time.time_ns())

    def start(self) -> Collector:
        for target in (self._server.serve_forever, self._timer):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self.processor.force_flush()

    def __enter__(self) -> Collector:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
