"""``archlab limits load``: replay a traffic mix against an HTTP API and count what happens.

Users send requests of four classes (critical payments, POST writes, GET reads, test traffic)
in a mix the caller chooses, at a target rate, some users bursting; each user keeps one
HTTP/1.1 keep-alive connection. The result counts responses by class and status (200/201,
429, 503, errors) and reports latency percentiles and how many 429s carried ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from archlab.errors import ConfigError

#: class -> (method, path, extra headers)
REQUESTS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "critical": ("POST", "/charges", ()),
    "post": ("POST", "/items", ()),
    "get": ("GET", "/items", ()),
    "test": ("GET", "/items", (("X-Test", "1"),)),
}


def parse_mix(text: str) -> dict[str, float]:
    """``critical=10,post=20,get=50,test=20`` as weights; a one-line error for anything else."""
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, sep, weight = part.partition("=")
        name = name.strip()
        if not sep or name not in REQUESTS:
            raise ConfigError(
                f"--mix: {part!r} is not CLASS=WEIGHT with CLASS one of {', '.join(REQUESTS)}"
            )
        try:
            mix[name] = float(weight)
        except ValueError:
            raise ConfigError(f"--mix: weight {weight!r} of {name} is not a number") from None
        if mix[name] < 0:
            raise ConfigError(f"--mix: weight of {name} is negative")
    if not any(mix.values()):
        raise ConfigError("--mix: the weights add up to zero")
    return mix


@dataclass
class LoadResult:
    counts: Counter[tuple[str, int]] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    retry_after_on_429: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def total(self) -> int:
        return sum(self.counts.values())


async def _one(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    user: str,
    klass: str,
) -> tuple[int, bool]:
    method, path, extra = REQUESTS[klass]
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"X-User: {user}", "Content-Length: 0"]
    lines += [f"{k}: {v}" for k, v in extra]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split()[1])
    length, retry_after = 0, False
    while True:
        line = (await reader.readline()).strip()
        if not line:
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "retry-after":
            retry_after = True
    if length:
        await reader.readexactly(length)
    return status, retry_after


async def _user(
    host: str,
    port: int,
    user: str,
    rate: float,
    until: float,
    mix: dict[str, float],
    rng: random.Random,
    result: LoadResult,
) -> None:
    classes, weights = list(mix), list(mix.values())
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        result.errors[type(exc).__name__] += 1
        return
    try:
        while time.monotonic() < until:
            klass = rng.choices(classes, weights)[0]
            started = time.monotonic()
            try:
                status, retry_after = await _one(reader, writer, host, user, klass)
            except (OSError, ConnectionError, ValueError, IndexError) as exc:
                result.errors[type(exc).__name__] += 1
                return
            result.latencies.append(time.monotonic() - started)
            result.counts[(klass, status)] += 1
            result.retry_after_on_429 += int(status == 429 and retry_after)
            await asyncio.sleep(rng.expovariate(rate))
    finally:
        writer.close()


async def run_load(
    host: str,
    port: int,
    *,
    users: int,
    rate: float,
    seconds: float,
    mix: dict[str, float],
    seed: int = 0,
) -> LoadResult:
    """``users`` users, each at about ``rate / users`` requests/s (a few bursting at 5x)."""
    rng = random.Random(seed)
    result = LoadResult()
    until = time.monotonic() + seconds
    started = time.monotonic()
    per_user = rate / users
    tasks = [
        _user(
            host,
            port,
            f"user{i}",
            per_user * (5 if i < max(1, users // 10) else 1),
            until,
            mix,
            random.Random(rng.getrandbits(64)),
            result,
        )
        for i in range(users)
    ]
    await asyncio.gather(*tasks)
    result.seconds = time.monotonic() - started
    return result
