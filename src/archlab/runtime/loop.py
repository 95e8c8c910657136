"""The event loop the runtime's processes use: uvloop when it is installed, else asyncio's own.

uvloop (libuv under the asyncio API) cuts the per-message cost of the event loop and the socket
transports, which is most of what a replicated write costs in a Python server. It is optional
(the ``fast`` extra); everything works, slower, without it. Benchmarks run archlab's servers,
the peers' front ends and the load generator on the same loop, and report which.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_name() -> str:
    """``"uvloop"`` or ``"asyncio"``: what :func:`run` uses (``ARCHLAB_LOOP=asyncio`` forces)."""
    if os.environ.get("ARCHLAB_LOOP") == "asyncio":
        return "asyncio"
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the loop :func:`loop_name` names."""
    if loop_name() == "uvloop":
        import uvloop

        result: T = uvloop.run(coro)
        return result
    return asyncio.run(coro)
