"""A pysyncobj replica of the same key-value store, behind archlab's client protocol.

``python -m archlab.runtime.peers.pysyncobj_server --id 1 --raft 1=127.0.0.1:7101,...
--clients 1=127.0.0.1:7201,... --data-dir D`` runs one node of a pysyncobj cluster (Raft over
its own TCP transport, on the ``--raft`` address) whose replicated object applies the very same
command bytes with archlab's :class:`~archlab.consensus.kv.KVStateMachine`, and a front end on
the ``--clients`` address that speaks archlab's wire protocol
(:mod:`archlab.runtime.codec`): a follower answers ``not-leader`` with the leader's id, the
leader hands the command to pysyncobj and answers when pysyncobj reports it applied. So
:mod:`archlab.runtime.loadgen` drives this cluster and archlab's identically.

Durability is pysyncobj's journal file (``journalFile``): records are written into a memory
map, never fsynced; the term and vote go to a small file rewritten and renamed, flushed but not
fsynced. That survives a process crash, not a power loss — the same promise as archlab's
``--durability none``, which the benchmark therefore uses for both.

pysyncobj runs its Raft loop in its own thread (``autoTick``); replies cross back to the asyncio
thread in batches (one wake-up per batch, not per command). Its leader appends queued commands
and sends them to followers in batches every ``appendEntriesPeriod``; that period and the tick
period are set to 1 ms here instead of pysyncobj's 100 ms / 50 ms defaults, the best of the
settings tried for a closed-loop client (``--append-period``, ``--tick-period``, ``--no-batch``
change them).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pysyncobj import SyncObj, SyncObjConf, replicated

from archlab.consensus.client import ClientRequest, ClientResponse, Reply, encode_payload
from archlab.consensus.kv import KVStateMachine
from archlab.runtime.codec import Frame, Hello
from archlab.runtime.loop import run
from archlab.runtime.transport import FramedConnection, parse_address

#: pysyncobj's timing (its defaults are 0.1 s and 0.05 s: a leader then sends new entries only
#: every 100 ms, which caps a closed-loop client at one write per 100 ms per connection).
#: 1 ms is the best setting found for this workload (see BENCHMARKS.md).
APPEND_PERIOD = 0.001
TICK_PERIOD = 0.001


class ReplicatedKV(SyncObj):  # type: ignore[misc]
    """The kv state machine as a pysyncobj replicated object."""

    def __init__(self, me: str, others: list[str], conf: Any) -> None:
        super().__init__(me, others, conf=conf)
        self._kv = KVStateMachine()
        self._applied = 0

    @replicated  # type: ignore
    def apply_command(self, data: bytes) -> tuple[str, Any, str | None]:
        self._applied += 1
        reply = self._kv.apply(self._applied, data)
        return reply.outcome, reply.value, reply.error


def _pairs(text: str) -> dict[int, str]:
    out = {}
    for part in text.split(","):
        node, _, address = part.partition("=")
        out[int(node)] = address
    return out


class FrontEnd:
    def __init__(self, obj: ReplicatedKV, raft: dict[int, str]) -> None:
        self.obj = obj
        self.node_of = {address: node for node, address in raft.items()}
        self.loop = asyncio.get_running_loop()
        self._clients: dict[int, FramedConnection] = {}
        self._next = 1
        self._done: list[tuple[int, ClientResponse]] = []
        self._lock = threading.Lock()
        self._wake_pending = False

    def on_frame(self, conn: FramedConnection, item: Frame) -> None:
        if conn.hello is None:
            if isinstance(item, Hello):
                conn.hello = item
                conn.tag = self._next
                self._clients[self._next] = conn
                self._next += 1
            else:
                conn.close()
            return
        if not isinstance(item, ClientRequest):
            conn.close()
            return
        if not self.obj._isLeader():
            leader = self.obj._getLeader()
            hint = None if leader is None else self.node_of.get(leader.address)
            reply = Reply("fail", error="not-leader", leader=hint)
            conn.send(ClientResponse(item.request_id, reply))
            return
        tag, request_id = conn.tag, item.request_id

        def done(result: Any, error: Any) -> None:
            if error == 0 and result is not None:  # pysyncobj's FAIL_REASON.SUCCESS
                outcome, value, err = result
                reply = Reply(outcome, value, err)
            else:
                reply = Reply("info", error=f"pysyncobj error {error}")
            self._completed(tag, ClientResponse(request_id, reply))

        self.obj.apply_command(encode_payload(item.payload), callback=done)

    def _completed(self, tag: int, response: ClientResponse) -> None:
        """Called on pysyncobj's thread: queue, and wake the loop once per batch."""
        with self._lock:
            self._done.append((tag, response))
            if self._wake_pending:
                return
            self._wake_pending = True
        self.loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            done, self._done = self._done, []
            self._wake_pending = False
        batches: dict[int, list[Frame]] = {}
        for tag, response in done:
            batches.setdefault(tag, []).append(response)
        for tag, frames in batches.items():
            conn = self._clients.get(tag)
            if conn is not None:
                conn.send_many(frames)

    def on_close(self, conn: FramedConnection) -> None:
        self._clients.pop(conn.tag, None)


async def serve(args: argparse.Namespace) -> None:
    raft = _pairs(args.raft)
    clients = _pairs(args.clients)
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    conf = SyncObjConf(
        journalFile=str(data / "journal"),
        fullDumpFile=str(data / "dump"),
        dynamicMembershipChange=False,
        appendEntriesUseBatch=not args.no_batch,
        appendEntriesPeriod=args.append_period,
        autoTickPeriod=args.tick_period,
    )
    me = raft[args.id]
    obj = ReplicatedKV(me, [a for n, a in raft.items() if n != args.id], conf)
    front = FrontEnd(obj, raft)
    host, port = parse_address(clients[args.id])
    server = await asyncio.get_running_loop().create_server(
        lambda: FramedConnection(front.on_frame, front.on_close), host, port, reuse_address=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    logging.info("pysyncobj node %d: raft %s, clients %s:%d", args.id, me, host, port)
    await stop.wait()
    server.close()
    obj.destroy()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m archlab.runtime.peers.pysyncobj_server")
    parser.add_argument("--id", type=int, required=True)
    parser.add_argument("--raft", required=True)
    parser.add_argument("--clients", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument(
        "--append-period",
        type=float,
        default=APPEND_PERIOD,
        help="seconds between a leader's batched AppendEntries (pysyncobj's default: 0.1)",
    )
    parser.add_argument(
        "--no-batch", action="store_true", help="send AppendEntries for every command at once"
    )
    parser.add_argument("--tick-period", type=float, default=TICK_PERIOD)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
