"""A real redis-server for the rate-limit tests, started on a free port once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from archlab.resilience.redisproc import RedisServer, redis_available


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if not redis_available():
        pytest.fail(
            "redis-server and the redis client are test dependencies: `make test` installs "
            "them (scripts/system-packages.txt, the dev extra)"
        )
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[object]:
    import redis

    client = redis.Redis(port=redis_server.port)
    client.flushall()
    yield client
    client.close()
