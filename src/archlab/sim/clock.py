"""Node clocks: each host reads its own clock, with an offset and a drift rate.

A :class:`NodeClock` maps the simulation's true (virtual) time to what the node believes the
time is: ``local = anchor_local + (true - anchor_true) * (1 + drift)``. The nemesis's
clock-skew fault steps the offset (an NTP step, possibly backwards) and changes the drift
rate; both take effect from the current instant, so the clock is continuous except at steps.

Protocols see only local time (the ``now`` argument of every callback) and ask for timers in
local seconds; the host converts a local duration to true time with :meth:`true_delay`, so a
fast clock fires its timers early in true time. Leases (codex 5.3) and TrueTime's uncertainty
interval (5.2) are built on these clocks: :meth:`error` is the true error at this instant, the
quantity a TrueTime implementation must bound.
"""

from __future__ import annotations

from archlab.sim.kernel import Simulation


class NodeClock:
    """One node's clock (see the module docstring)."""

    def __init__(self, sim: Simulation, offset: float = 0.0, drift: float = 0.0) -> None:
        if drift <= -1.0:
            raise ValueError(f"drift {drift} would stop or reverse the clock")
        self._sim = sim
        self._anchor_true = sim.now
        self._anchor_local = sim.now + offset
        self.drift = drift

    def now(self) -> float:
        """The node's local time."""
        return self._anchor_local + (self._sim.now - self._anchor_true) * (1.0 + self.drift)

    def error(self) -> float:
        """Local time minus true time, now."""
        return self.now() - self._sim.now

    def true_delay(self, local_delay: float) -> float:
        """How long in true time ``local_delay`` seconds of this clock take."""
        return max(0.0, local_delay / (1.0 + self.drift))

    def step(self, delta: float) -> None:
        """Jump the clock by ``delta`` seconds (negative: backwards)."""
        self._reanchor()
        self._anchor_local += delta

    def set_drift(self, drift: float) -> None:
        """Run ``drift`` faster (``1e-4`` = 100 ppm fast, negative = slow) from now on."""
        if drift <= -1.0:
            raise ValueError(f"drift {drift} would stop or reverse the clock")
        self._reanchor()
        self.drift = drift

    def reset(self) -> None:
        """Back to true time with no drift (a clock resynchronised)."""
        self._anchor_true = self._sim.now
        self._anchor_local = self._sim.now
        self.drift = 0.0

    def _reanchor(self) -> None:
        local = self.now()
        self._anchor_true = self._sim.now
        self._anchor_local = local
