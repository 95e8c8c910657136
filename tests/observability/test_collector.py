"""The OTLP/HTTP collector: real SDK exporters, traces assembled across processes, bad bodies."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from archlab.observability.collector import Collector
from archlab.observability.demo import run_demo
from archlab.observability.sampling import status_code_error


def test_spans_exported_by_the_sdk_are_decided_as_whole_traces(tmp_path: Path) -> None:
    out = tmp_path / "kept.jsonl"
    with Collector(status_code_error(), decision_wait=0.0, output=out) as collector:
        provider = TracerProvider(resource=Resource({"service.name": "shop"}))
        provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=collector.url)))
        tracer = provider.get_tracer("test")
        for failing in (True, False):
            with (
                tracer.start_as_current_span("root"),
                tracer.start_as_current_span("child") as child,
            ):
                if failing:
                    child.set_status(Status(StatusCode.ERROR))
        provider.shutdown()
        collector.processor.tick(time.time_ns() + 10**9)
        stats = collector.stats()
    assert stats["spans_received"] == 4
    assert (stats["traces_kept"], stats["traces_dropped"]) == (1, 1)
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert {k["name"] for k in kept} == {"root", "child"} and {k["service"] for k in kept} == {
        "shop"
    }
    assert len({k["trace_id"] for k in kept}) == 1


def test_a_malformed_export_gets_400_and_the_collector_keeps_serving() -> None:
    with Collector(status_code_error()) as collector:
        kind = {"Content-Type": "application/x-protobuf"}
        body = b"\xff\x00not protobuf"
        bad = urllib.request.Request(collector.url, data=body, method="POST", headers=kind)
        try:
            urllib.request.urlopen(bad, timeout=5)
            raise AssertionError("accepted garbage")
        except urllib.error.HTTPError as exc:
            assert exc.code == 400
            assert "not an OTLP" in json.loads(exc.read())["error"]
        stats_url = collector.url.replace("/v1/traces", "/stats")
        with urllib.request.urlopen(stats_url, timeout=5) as reply:
            assert json.loads(reply.read())["requests_rejected"] == 1


def test_three_service_processes_are_tail_sampled_as_one_trace_each() -> None:
    result = run_demo(requests=60, error_rate=0.1, slow_rate=0.05, keep_share=0.0, seed=3)
    assert result.failed_requests > 0
    assert result.stats["spans_received"] == 60 * 5  # three servers, two client calls
    assert result.stats["traces_kept"] + result.stats["traces_dropped"] == 60
    # every failed request's trace was kept, whole: spans from all three processes
    assert result.error_traces_kept == result.failed_requests
    assert set(result.services_per_kept_trace.values()) == {3}
    assert trace.get_tracer_provider() is not None
