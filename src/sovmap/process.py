"""Child processes that must not outlive the process that started them (scan workers, the
network simulator's resolvers, the web server's workers)."""

from __future__ import annotations

import contextlib
import ctypes
import signal


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (``PR_SET_PDEATHSIG``); nothing
    elsewhere. Call it first thing in the child; a child that must not run without its parent
    checks ``os.getppid()`` afterwards, as the parent may have died before the call."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
