"""Same seed and parameters, same bytes: the trace and history of a run (docs/architecture.md)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import replace

from archlab.sim.nemesis import NemesisSpec
from archlab.sim.scenario import get_scenario

FAULTS = "partition,crash,pause,loss,dup,reorder,clock-skew"

SCRIPT = """
import hashlib, sys
from dataclasses import replace
from archlab.sim.nemesis import NemesisSpec
from archlab.sim.scenario import get_scenario
s = get_scenario("register")
config = replace(s.default_config(), seed=int(sys.argv[1]), ops=150,
                 nemesis=NemesisSpec.parse(sys.argv[2], restart="mixed"),
                 options=(("variant", sys.argv[3]),))
r = s.build(config).run()
print(hashlib.sha256((r.trace.dumps() + r.history_text()).encode()).hexdigest())
"""


def fingerprint(seed: int, variant: str = "correct") -> tuple[str, str]:
    s = get_scenario("register")
    config = replace(
        s.default_config(),
        seed=seed,
        ops=150,
        nemesis=NemesisSpec.parse(FAULTS, restart="mixed"),
        options=(("variant", variant),),
    )
    result = s.build(config).run()
    return result.trace.dumps(), result.history_text()


def test_a_seed_gives_byte_identical_trace_and_history() -> None:
    for variant in ("correct", "broken"):
        first = fingerprint(4, variant)
        assert first == fingerprint(4, variant)
        trace, history = first
        assert '"event":"fault"' in trace and '"event":"send"' in trace
        assert history.count("\n") > 200


def test_other_seeds_give_other_runs() -> None:
    assert fingerprint(4) != fingerprint(5)


def test_runs_do_not_depend_on_the_process_hash_seed() -> None:
    """String hashing is randomised per process; nothing in a run may depend on it."""
    trace, history = fingerprint(9)
    expected = hashlib.sha256((trace + history).encode()).hexdigest()
    for hash_seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, "9", FAULTS, "correct"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        )
        assert out.stdout.strip() == expected
