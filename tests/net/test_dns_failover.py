"""DNS failover on real packets: a dnslib authority on loopback, dnspython resolvers."""

from __future__ import annotations

import time

import dns.resolver

from archlab.net.dns_authority import AuthorityServer, FailoverAuthority

NAME = "svc.archlab.test"


def _resolver(port: int, cache: bool) -> dns.resolver.Resolver:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.lifetime = 2.0
    if cache:
        resolver.cache = dns.resolver.Cache()
    return resolver


def _address(resolver: dns.resolver.Resolver) -> str:
    return str(resolver.resolve(NAME, "A")[0])


def test_a_caching_resolver_keeps_the_dead_pop_until_the_ttl_runs_out() -> None:
    authority = FailoverAuthority(NAME, [("east", "192.0.2.1"), ("west", "192.0.2.2")], ttl=1)
    with AuthorityServer(authority) as port:
        caching, fresh = _resolver(port, cache=True), _resolver(port, cache=False)
        assert _address(caching) == "192.0.2.1"
        answer = caching.resolve(NAME, "A")
        assert answer.rrset is not None and answer.rrset.ttl <= 1
        authority.set_healthy("east", False)  # east fails; the authority answers west now
        assert _address(fresh) == "192.0.2.2"
        assert _address(caching) == "192.0.2.1"  # from the cache: still the dead PoP
        queries = authority.queries
        time.sleep(1.2)  # the TTL runs out
        assert _address(caching) == "192.0.2.2"
        assert authority.queries == queries + 1


def test_unknown_names_and_no_live_pop() -> None:
    authority = FailoverAuthority(NAME, [("east", "192.0.2.1")], ttl=5)
    with AuthorityServer(authority) as port:
        resolver = _resolver(port, cache=False)
        try:
            resolver.resolve("other.archlab.test", "A")
        except dns.resolver.NXDOMAIN:
            pass
        else:
            raise AssertionError("an unknown name must be NXDOMAIN")
        authority.set_healthy("east", False)
        try:
            resolver.resolve(NAME, "A")
        except dns.resolver.NoNameservers:
            pass  # SERVFAIL from the only server
        else:
            raise AssertionError("no live PoP must be SERVFAIL")
