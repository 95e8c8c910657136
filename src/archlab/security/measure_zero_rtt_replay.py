"""``security.zero_rtt_replay`` (codex 3.4): 0-RTT data can be replayed; two defences stop it."""

from __future__ import annotations

from dataclasses import dataclass

from archlab.lab import (
    Column,
    Context,
    Evidence,
    Judgement,
    Outcome,
    Table,
    Threshold,
    experiment,
    holds,
    nuanced,
    refuted,
)
from archlab.security.replay import POLICIES, run

#: The codex's risk: a replayed 0-RTT request runs again; one duplicate shows it.
REPLAY_EXECUTES = Threshold(
    1, "executions", "codex 3.4: 0-RTT data is not protected against replay"
)
#: A defence must stop every replay (a duplicate transfer is the harm).
DEFENDED_REPLAYS = Threshold(0, "executions", "codex 3.4: prevent duplicate transactions")
#: ... and must not stop the real client's request: it runs exactly once.
LEGIT_MISSING = Threshold(0, "requests", "RFC 8470 §5.2: the client retries after 425, once")


@dataclass(frozen=True)
class ZeroRttReplayMeasurement:
    """Per server policy: replays of a recorded 0-RTT POST executed, and the real one's fate."""

    replays_sent: int
    early_data_accepted: dict[str, bool]
    replays_executed: dict[str, int]
    legit_executed: dict[str, int]
    too_early_answers: dict[str, int]


def judge_zero_rtt_replay(m: ZeroRttReplayMeasurement) -> Judgement:
    blind = m.replays_executed["none"]
    defended = {p: n for p, n in m.replays_executed.items() if p != "none"}
    lost = sum(1 for n in m.legit_executed.values() if n != 1)
    attack = Evidence("replays executed, no defence", blind, "executions", at_least=REPLAY_EXECUTES)
    leak = Evidence(
        "replays executed, worst defence",
        max(defended.values()),
        "executions",
        at_most=DEFENDED_REPLAYS,
    )
    broken = Evidence(
        "policies where the real transfer did not run once", lost, "requests", at_most=LEGIT_MISSING
    )
    text = f"of {m.replays_sent} replays, {blind} executed with no defence, " + ", ".join(
        f"{n} with {p.replace('_', ' ')}" for p, n in defended.items()
    )
    if not m.early_data_accepted["none"]:
        return nuanced(f"{text}; the server did not accept early data: regime not reached", attack)
    if not attack.met:
        return refuted(f"{text}: a replayed 0-RTT flight did not run again", attack, leak, broken)
    if not leak.met or lost:
        return nuanced(
            f"{text}: the replay is real but a defence leaks or breaks the client",
            attack,
            leak,
            broken,
        )
    return holds(
        f"{text}; the real transfer ran exactly once under every policy", attack, leak, broken
    )


@experiment(
    id="security.zero_rtt_replay",
    section="3.4",
    title="0-RTT replay, and restricting early data",
    claim="""TLS 1.3 0-RTT lets a returning client send encrypted application data in its first
    flight, but that data is not protected against replay: an attacker who captures the flight
    can resend it and the server acts on it again. Restricting 0-RTT to idempotent requests
    prevents duplicate transactions.""",
    method="""Real aioquic (QUIC + TLS 1.3) client and server connections driven sans-IO on a
    virtual clock. A first connection obtains a session ticket; the client resumes with it
    and sends POST /transfer as 0-RTT data; its first flight is recorded and replayed to fresh
    server connections sharing the ticket store. Server policies: accept early data blindly,
    answer 425 Too Early to non-idempotent early requests (the client retries after the
    handshake), and single-use tickets (anti-replay).""",
    judge=judge_zero_rtt_replay,
    rule="""refuted when no replay executes with no defence although early data was accepted
    (the risk is not real); holds when at least one replay executes with no defence, none with
    either defence, and the real transfer runs exactly once under every policy; nuanced when a
    defence leaks or stops the real client, or early data was not accepted at all.""",
    profiles={"quick": {"replays": 3}, "full": {"replays": 20}},
    references=[
        "RFC 8446 §8 and Appendix E.5 (0-RTT has no replay protection; single-use tickets), "
        "RFC 8470 §5.2 (425 Too Early), RFC 9001 §4.6 (0-RTT in QUIC) (docs/references.md §3.4).",
    ],
)
def zero_rtt_replay(ctx: Context) -> Outcome[ZeroRttReplayMeasurement]:
    replays = int(ctx.params["replays"])
    runs = {p: run(p, replays=replays) for p in POLICIES}
    table = Table(
        "A recorded 0-RTT POST /transfer, replayed",
        [
            Column("server policy"),
            Column("early data accepted"),
            Column("real transfer executed"),
            Column("replays executed"),
            Column("425 answers"),
            Column("client saw"),
        ],
    )
    for p, r in runs.items():
        table.add(
            p,
            str(r.early_data_accepted),
            r.legit_executions,
            f"{r.replay_executions}/{replays}",
            r.too_early_answers,
            r.client_answer,
        )
    measured = ZeroRttReplayMeasurement(
        replays_sent=replays,
        early_data_accepted={p: r.early_data_accepted for p, r in runs.items()},
        replays_executed={p: r.replay_executions for p, r in runs.items()},
        legit_executed={p: r.legit_executions for p, r in runs.items()},
        too_early_answers={p: r.too_early_answers for p, r in runs.items()},
    )
    return Outcome(
        measured,
        summary=f"{runs['none'].replay_executions}/{replays} replays executed with no defence, "
        f"{runs['idempotent_only'].replay_executions} with idempotent-only early data, "
        f"{runs['single_use_tickets'].replay_executions} with single-use tickets",
        tables=[table],
    )
