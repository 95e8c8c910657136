"""Observability (codex 9.1): head and tail trace sampling on the OpenTelemetry SDK.

- :mod:`~archlab.observability.sampling`: a parent-based ratio ``Sampler`` (head sampling) and
  a ``SpanProcessor`` that buffers whole traces and decides after the root ends (tail
  sampling), with the Collector's policies and bounds;
- :mod:`~archlab.observability.measure_sampling`: the 9.1 claim measured;
- :mod:`~archlab.observability.experiments`: its registration.
"""
