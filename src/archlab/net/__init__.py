"""Chapter 3, networking and traffic management: real L4 and L7 load balancers, their
balancing policies, a load generator, and the transport and global-traffic experiments.

Sans-IO cores (:mod:`policies`, :mod:`backends`, :mod:`routing`, :mod:`health`) hold the
decisions; :mod:`l4`, :mod:`l7`, :mod:`origin` and :mod:`loadgen` are the asyncio hosts.
"""
