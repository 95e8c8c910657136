"""The machine a measurement was taken on: versions, CPU model, platform."""

from __future__ import annotations

import datetime as dt
import os
import platform
from functools import cache
from pathlib import Path

import archlab
from archlab.lab.result import Environment


@cache
def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo``, or the platform's best guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def current() -> Environment:
    return Environment(
        archlab_version=archlab.__version__,
        python_version=platform.python_version(),
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count() or 1,
        platform=platform.platform(terse=True),
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
