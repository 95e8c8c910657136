"""The chat server as a process of its own, for measuring its memory per connection.

``python -m archlab.cases.whatsapp.process DIR`` prints ``READY <port> <pid>`` and serves
until its standard input closes.
"""

from __future__ import annotations

import asyncio
import resource
import sys
from pathlib import Path

from archlab.cases.whatsapp.server import ChatServer


async def _serve(directory: Path) -> None:
    server = ChatServer(directory)
    await server.start()
    print(f"READY {server.port}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    await server.stop()


def main() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_serve(Path(sys.argv[1])))


if __name__ == "__main__":
    main()
