"""One server process of a real cluster: ``python -m archlab.runtime.serve --id 1 --peers ...``.

Opens the node's :class:`~archlab.runtime.filestore.FileStorage` (recovering whatever a
previous run left), builds the protocol's server over it (:mod:`archlab.runtime.protocols`),
and hosts it with :class:`~archlab.runtime.host.NodeHost` until SIGTERM or SIGINT; with
``--resp-port`` it also serves Redis clients (:mod:`archlab.runtime.resp`). Started by
``archlab cluster up`` (:mod:`archlab.runtime.cluster`), which redirects its output to the
node's log file; a fatal error (corrupt files, a port in use) is one line there and exit 2.

With ``ARCHLAB_PROFILE_DIR`` set, the process runs under cProfile and writes
``node<ID>.prof`` there when it stops (how the runtime's hot spots were found).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence

from archlab.errors import ArchlabError, ConfigError
from archlab.runtime.host import NodeHost
from archlab.runtime.loop import loop_name, run
from archlab.runtime.protocols import build_server
from archlab.runtime.resp import RespServer
from archlab.runtime.transport import parse_address


def _peers(text: str) -> dict[int, tuple[str, int]]:
    peers: dict[int, tuple[str, int]] = {}
    for part in text.split(","):
        node, sep, address = part.partition("=")
        if not sep or not node.isdigit():
            raise ConfigError(f"--peers entry {part!r} is not ID=HOST:PORT")
        peers[int(node)] = parse_address(address)
    return peers


async def serve(args: argparse.Namespace) -> None:
    addresses = _peers(args.peers)
    if args.id not in addresses:
        raise ConfigError(f"--id {args.id} is not among --peers")
    built = build_server(
        args.protocol,
        args.id,
        sorted(addresses),
        args.data_dir,
        args.durability,
        expect_state=args.expect_state,
    )
    host = NodeHost(
        built.server,
        args.id,
        addresses,
        sync=built.sync,
        tick_interval=args.tick_ms / 1000,
        status_extra=built.status,
    )
    try:
        await host.start()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {addresses[args.id]}: {exc.strerror}") from None
    logging.info(
        "node %d of %s listening on %s:%d (%s, durability %s, %s loop, recovered %s)",
        args.id,
        args.protocol,
        *addresses[args.id],
        args.data_dir,
        args.durability,
        loop_name(),
        built.recovered,
    )
    resp: RespServer | None = None
    if args.resp_port is not None:
        resp = RespServer(
            addresses[args.id][0], args.resp_port, addresses, host.status, first=args.id
        )
        try:
            await resp.start()
        except OSError as exc:
            await host.stop()
            raise ConfigError(
                f"cannot listen for RESP on port {args.resp_port}: {exc.strerror}"
            ) from None
        logging.info("node %d speaks RESP on port %d", args.id, args.resp_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if resp is not None:
        await resp.stop()
    await host.stop()
    built.close()
    logging.info("node %d stopped", args.id)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archlab.runtime.serve")
    parser.add_argument("--protocol", default="raft")
    parser.add_argument("--id", type=int, required=True)
    parser.add_argument("--peers", required=True, help="ID=HOST:PORT,... (every node)")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--durability", default="fsync", choices=["fsync", "none"])
    parser.add_argument("--tick-ms", type=float, default=10.0)
    parser.add_argument(
        "--resp-port", type=int, default=None, help="also serve Redis clients (RESP) on this port"
    )
    parser.add_argument(
        "--expect-state",
        action="store_true",
        help="the node ran before: an empty --data-dir means its data was lost",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s node" + str(args.id) + " %(message)s"
    )
    profile_dir = os.environ.get("ARCHLAB_PROFILE_DIR")
    profiler = cProfile.Profile(time.process_time) if profile_dir else None
    if profiler is not None:
        profiler.enable()
    try:
        run(serve(args))
    except ArchlabError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{profile_dir}/node{args.id}.prof")
    return 0


if __name__ == "__main__":
    sys.exit(main())
