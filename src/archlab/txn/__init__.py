"""Time and distributed transactions: TrueTime, two-phase commit, sagas (codex 5.2, 6.1).

Every protocol here is a sans-IO core (no clock, socket, thread or global randomness: time
arrives as an argument, randomness from an injected generator) hosted by :mod:`archlab.sim`.

=========================  ================================================================
``truetime``               ``TT.now()`` as an interval; ``after`` / ``before``; the sawtooth
``clocksync``              time masters and the polling daemon that keeps TrueTime synced
``timestamps``             logical timestamps, or TrueTime ones with commit wait
``twopc/``                 two-phase commit: ``locks``, ``data`` (versions), ``participant``,
                           ``coordinator`` (decision log, presumed abort), ``audit``
                           (atomicity from the logs), ``experiments`` (blocking, 6.1)
``store``                  the sharded store on 2PC; Spanner-style with a ``TrueTimeConfig``
``spanner``                the Spanner-style world: shards, a time master, skewed clocks
``saga/``                  ``bank`` (idempotency keys, compensations), ``orchestrator``,
                           ``choreography`` (events, transactional outbox), ``observer``,
                           ``nodes``, ``transfer`` (the domain, three designs), ``audit``,
                           ``experiments`` (isolation and availability, 6.1)
``world``                  a simulated world that settles after the faults heal, then audits
``scenarios``              ``archlab sim twopc | spanner | saga``
``experiments``            the 5.2 claims: external consistency, the cost of commit wait
=========================  ================================================================
"""
