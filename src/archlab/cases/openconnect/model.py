"""Open Connect's fill strategies simulated (codex 10.3): pull on demand vs push off-peak.

An Open Connect Appliance sits inside an ISP with a fixed amount of storage. Netflix's
control plane predicts what each region will watch tomorrow and pushes those titles to the
appliance during a nightly *fill window*, at a capped rate, so that at peak the appliance
serves almost everything and the backbone carries little. The alternative a generic CDN
uses is *pull*: fetch a title from upstream the first time it is asked for and evict the
least recently used one.

The model, one simulated day at a time and one hour within it:

- a catalogue of ``titles`` with Zipf(``zipf``) popularity and sizes from a log-normal; each
  day ``churn`` of the titles are replaced by new releases entering at random ranks in the
  top tenth, and every title's popularity drifts a little;
- a forecast of tomorrow's popularity: the truth times log-normal noise of ``noise`` sigma
  (0 is a perfect forecast; new releases are on the schedule, so they are forecast too);
- demand: ``views_per_day`` views drawn from that day's popularity, spread over the hours
  by a diurnal curve peaking in the evening (``PEAK_HOURS``); a view moves the title's size;
- the appliance holds ``cache_share`` of the catalogue's bytes. *Pull*: a miss is fetched
  from upstream at that hour and cached (LRU). *Push*: in the ``window_hours`` off-peak
  hours it loads tomorrow's forecast top titles, at most ``fill_cap`` of its capacity per
  hour; a miss is served from upstream and not cached (the control plane, not demand, decides
  what is stored).

Upstream bytes are counted per hour: the experiment compares the peak hours'. Randomness is
an injected seeded source; nothing here does I/O.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from archlab.randomness import RandomSource, derive_seed, seeded

#: Share of the day's views in each hour (local time): low at night, peaking 19:00-23:00.
DIURNAL = [
    0.020, 0.012, 0.008, 0.006, 0.005, 0.006, 0.010, 0.015, 0.022, 0.028, 0.032, 0.036,
    0.040, 0.042, 0.044, 0.048, 0.052, 0.060, 0.072, 0.088, 0.096, 0.094, 0.078, 0.034,
]  # fmt: skip
PEAK_HOURS = range(19, 23)
#: The fill window starts at 02:00 and lasts ``window_hours``.
WINDOW_START = 2

Strategy = Literal["pull", "push"]


@dataclass(frozen=True)
class FillConfig:
    titles: int = 2000
    zipf: float = 0.9
    churn: float = 0.02
    views_per_day: int = 20000
    cache_share: float = 0.1
    noise: float = 0.5
    window_hours: int = 12
    fill_cap: float = 0.05  # share of the appliance's capacity it may fill per window hour
    days: int = 6
    warmup_days: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.cache_share <= 1 or self.noise < 0 or not 0 <= self.churn < 1:
            raise ValueError("cache_share in (0, 1], noise >= 0 and churn in [0, 1)")
        if not 1 <= self.window_hours <= 24 or self.days <= self.warmup_days:
            raise ValueError("window_hours in 1..24 and more days than warm-up days")


@dataclass(frozen=True)
class FillResult:
    strategy: str
    hit_ratio: float  # bytes served by the appliance / bytes viewed
    peak_upstream: float  # upstream bytes in the peak hours, per measured day
    total_upstream: float  # per measured day
    off_peak_share: float  # share of upstream bytes inside the fill window
    fill_share: float  # share of upstream bytes that were proactive fill (push only)
    viewed: float  # bytes viewed per measured day


class Catalogue:
    """Titles, sizes and each day's popularity."""

    def __init__(self, config: FillConfig, rng: RandomSource) -> None:
        self.config = config
        self._rng = rng
        self._next_id = config.titles
        self.sizes = {t: math.exp(rng.uniform(-0.5, 0.5)) for t in range(config.titles)}
        self.ranking = list(range(config.titles))  # most popular first
        rng.shuffle(self.ranking)

    def weights(self) -> dict[int, float]:
        z = self.config.zipf
        return {title: 1.0 / (rank + 1) ** z for rank, title in enumerate(self.ranking)}

    def advance_day(self) -> None:
        """Churn: new releases replace tail titles near the top; ranks drift a little."""
        rng, n = self._rng, len(self.ranking)
        for _ in range(int(self.config.churn * n)):
            gone = self.ranking.pop()
            del self.sizes[gone]
            title = self._next_id
            self._next_id += 1
            self.sizes[title] = math.exp(rng.uniform(-0.5, 0.5))
            self.ranking.insert(rng.randrange(max(1, n // 10)), title)
        for _ in range(n // 20):
            i = rng.randrange(n - 1)
            self.ranking[i], self.ranking[i + 1] = self.ranking[i + 1], self.ranking[i]

    def total_bytes(self) -> float:
        return sum(self.sizes.values())


def forecast(weights: dict[int, float], noise: float, rng: RandomSource) -> list[int]:
    """Titles in the order a forecast with log-normal ``noise`` would rank them."""
    noisy = {t: w * math.exp(noise * _normal(rng)) if noise else w for t, w in weights.items()}
    return sorted(noisy, key=lambda t: -noisy[t])


def simulate(config: FillConfig, strategy: Strategy, seed: int) -> FillResult:  # noqa: PLR0912, PLR0915 - one day's loop: forecast, fill window, hourly demand, accounting
    """One appliance over ``config.days``; the same seed gives pull and push the same
    catalogue, churn and views (separate random streams), so they differ only by strategy."""
    catalogue = Catalogue(config, seeded(derive_seed(seed, "catalogue")))
    rng = seeded(derive_seed(seed, "demand"))
    guesses = seeded(derive_seed(seed, "forecast"))
    capacity = config.cache_share * catalogue.total_bytes()
    stored: OrderedDict[int, float] = OrderedDict()  # title -> size, LRU order for pull
    used = 0.0
    measured_days = config.days - config.warmup_days
    peak = total = window_bytes = viewed = hits = filled = 0.0
    window = {(WINDOW_START + h) % 24 for h in range(config.window_hours)}
    for day in range(config.days):
        counting = day >= config.warmup_days
        plan: list[int] = []
        if strategy == "push":
            # Tonight's fill prepares for the day whose popularity the forecast predicts.
            tomorrow = catalogue.weights()
            ranked = forecast(tomorrow, config.noise, guesses)
            room, plan = capacity, []
            for title in ranked:
                if catalogue.sizes[title] <= room:
                    plan.append(title)
                    room -= catalogue.sizes[title]
            wanted = set(plan)
            for title in [t for t in stored if t not in wanted]:
                used -= stored.pop(title)
        titles = list(catalogue.weights().items())
        cumulative = list(itertools.accumulate(w for _, w in titles))
        for hour in range(24):
            upstream = 0.0
            if strategy == "push" and hour in window:
                budget = config.fill_cap * capacity
                while plan and budget > 0:
                    title = plan[0]
                    if title in stored:
                        plan.pop(0)
                        continue
                    size = catalogue.sizes[title]
                    if size > budget or used + size > capacity:
                        break
                    plan.pop(0)
                    stored[title] = size
                    used += size
                    budget -= size
                    upstream += size
                    filled += size if counting else 0.0
            views = _views(config.views_per_day * DIURNAL[hour], rng)
            for _ in range(views):
                pick = rng.random() * cumulative[-1]
                title = titles[bisect.bisect_left(cumulative, pick)][0]
                size = catalogue.sizes[title]
                if counting:
                    viewed += size
                if title in stored:
                    stored.move_to_end(title)
                    if counting:
                        hits += size
                    continue
                upstream += size
                if strategy == "pull":
                    while stored and used + size > capacity:
                        used -= stored.popitem(last=False)[1]
                    if size <= capacity:
                        stored[title] = size
                        used += size
            if counting:
                total += upstream
                peak += upstream if hour in PEAK_HOURS else 0.0
                window_bytes += upstream if hour in window else 0.0
        catalogue.advance_day()
        for title in [t for t in stored if t not in catalogue.sizes]:
            used -= stored.pop(title)
    return FillResult(
        strategy=strategy,
        hit_ratio=hits / viewed if viewed else 0.0,
        peak_upstream=peak / measured_days,
        total_upstream=total / measured_days,
        off_peak_share=window_bytes / total if total else 0.0,
        fill_share=filled / total if total else 0.0,
        viewed=viewed / measured_days,
    )


def _normal(rng: RandomSource) -> float:
    """A standard normal draw (Box-Muller) from the injected source."""
    return math.sqrt(-2.0 * math.log(1.0 - rng.random())) * math.cos(2.0 * math.pi * rng.random())


def _views(expected: float, rng: RandomSource) -> int:
    """A whole number of views with mean ``expected`` (the fraction drawn at random)."""
    whole = int(expected)
    return whole + (1 if rng.random() < expected - whole else 0)
