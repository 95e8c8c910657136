"""Resilience (codex 9.2-9.3): rate limiters, atomic on a real Redis, and shuffle sharding.

- :mod:`~archlab.resilience.limits`: a limit's configuration and the decision it returns;
- :mod:`~archlab.resilience.algorithms`: the five decision rules as pure functions;
- :mod:`~archlab.resilience.scripts`: the same rules as Redis Lua scripts, one atomic call each;
- :mod:`~archlab.resilience.backends`: in-memory, Redis and the naive read-then-write backend;
- :mod:`~archlab.resilience.redisproc`: a real ``redis-server`` started on a free port;
- :mod:`~archlab.resilience.hammer`: many processes firing at one key, admissions counted;
- :mod:`~archlab.resilience.sharding`: plain and shuffle sharding, stateless and stateful;
- :mod:`~archlab.resilience.experiments`: the claims of 9.2 and 9.3 measured.
"""
