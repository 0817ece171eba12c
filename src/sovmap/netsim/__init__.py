"""A network simulator for tests and benchmarks: a DNS proxy on loopback that behaves like a
resolver on a real network.

Each simulated resolver is one process with one UDP address. It forwards every question to a
real upstream nameserver (Knot, or the in-process :class:`~sovmap.devserver.DevServer`) and
delivers the upstream's answer after a delay drawn from its :class:`Behaviour`: a mean round
trip with jitter (normal distribution, never below zero), a share of questions lost, a share of
answers held back (reordering), a per-source rate limit (REFUSED or silent drop above it),
periods in which it answers nothing (or never answers), and NXDOMAIN rewriting (a lying
resolver answering an address for names that do not exist).

One process per address keeps each proxy's loop short (one epoll loop, a heap of timed
answers, datagrams drained in batches): without delay one process carries tens of thousands
of questions per second, measured by the network benchmark before it measures anything else.
Only UDP is proxied (an answer the upstream truncates reaches the client truncated; its TCP
retry finds no listener and fails).
"""

from sovmap.netsim.proxy import Behaviour, NetSim, ProxyStats

__all__ = ["Behaviour", "NetSim", "ProxyStats"]
