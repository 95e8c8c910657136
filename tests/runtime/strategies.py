"""Hypothesis strategies for Raft values and the runtime's frames."""

from __future__ import annotations

from hypothesis import strategies as st

from archlab.consensus.client import (
    Cas,
    ClientRequest,
    ClientResponse,
    Command,
    OpenSession,
    Read,
    Reply,
    Write,
)
from archlab.consensus.raft.messages import (
    AppendEntries,
    AppendResponse,
    Heartbeat,
    HeartbeatResponse,
    InstallSnapshot,
    ReadIndexRequest,
    ReadIndexResponse,
    VoteRequest,
    VoteResponse,
)
from archlab.consensus.raft.types import ConfState, Entry, EntryKind, Snapshot, SnapshotMetadata
from archlab.runtime.codec import Hello, StatusReply, StatusRequest

u64 = st.integers(0, 2**64 - 1)
ids = st.integers(1, 2**63)
small = st.integers(0, 10_000)
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)

entries = st.builds(
    Entry,
    term=u64,
    index=u64,
    data=st.binary(max_size=64),
    kind=st.sampled_from(list(EntryKind)),
)
confs = st.builds(
    ConfState,
    voters=st.frozensets(ids, max_size=7),
    learners=st.frozensets(ids, max_size=3),
)
snapshots = st.builds(
    Snapshot,
    metadata=st.builds(SnapshotMetadata, index=u64, term=u64, conf=confs),
    data=st.binary(max_size=200),
)

raft_messages = st.one_of(
    st.builds(VoteRequest, ids, ids, u64, u64, u64, st.booleans()),
    st.builds(VoteResponse, ids, ids, u64, st.booleans(), st.booleans()),
    st.builds(
        AppendEntries, ids, ids, u64, u64, u64, st.lists(entries, max_size=5).map(tuple), u64
    ),
    st.builds(AppendResponse, ids, ids, u64, u64, st.booleans(), u64, u64, st.booleans()),
    st.builds(Heartbeat, ids, ids, u64, u64, u64),
    st.builds(HeartbeatResponse, ids, ids, u64, u64, st.booleans()),
    st.builds(InstallSnapshot, ids, ids, u64, snapshots),
    st.builds(ReadIndexRequest, ids, ids, u64, st.binary(max_size=16)),
    st.builds(ReadIndexResponse, ids, ids, u64, st.binary(max_size=16), u64),
)

keys = st.text(max_size=10)
operations = st.one_of(
    st.builds(Read, keys),
    st.builds(Write, keys, scalars),
    st.builds(Cas, keys, scalars, scalars),
)
payloads = st.one_of(
    st.just(OpenSession()),
    st.builds(Command, st.integers(0, 2**40), st.integers(0, 2**40), operations),
)
replies = st.builds(
    Reply,
    outcome=st.sampled_from(["ok", "fail", "info"]),
    value=scalars,
    error=st.none() | st.text(max_size=20),
    leader=st.none() | ids,
)
client_frames = st.one_of(
    st.builds(ClientRequest, st.integers(0, 2**62) | st.text(max_size=10), u64, payloads),
    st.builds(ClientResponse, u64, replies),
    st.builds(Hello, st.just("peer"), ids),
    st.builds(Hello, st.just("client"), st.none()),
    st.builds(StatusRequest, u64),
    st.builds(
        StatusReply, u64, st.lists(st.tuples(st.text(max_size=8), scalars), max_size=6).map(tuple)
    ),
)
frames = raft_messages | client_frames
