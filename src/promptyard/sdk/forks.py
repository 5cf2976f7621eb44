"""Objects that re-arm themselves in a forked child.

A child of `fork()` has only the thread that forked, copies of the parent's sockets, and copies
of its locks - held for ever when another thread of the parent held them at that moment. So
every object of ours that owns a thread, a lock or a connection subclasses `Rearmed` and says
in its own `_reset()` what a fresh start means for it; nothing central needs to know the parts.

One fork hook per class (not per object, which could not be unregistered), with the live
objects held weakly. The hook runs in the child before any code of the child's own, so no
thread races it (a check of `os.getpid()` on every call, as Sentry's SDK does, would have to
replace a lock another thread of the child may already be waiting on).
"""

from __future__ import annotations

import os
import weakref
from typing import Any


class Rearmed:
    _live: "weakref.WeakSet[Rearmed]"

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        live: weakref.WeakSet[Rearmed] = weakref.WeakSet()
        cls._live = live
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=lambda: [obj._reset() for obj in list(live)])

    def __new__(cls, *args: Any, **kwargs: Any):
        obj = super().__new__(cls)
        cls._live.add(obj)
        return obj

    def _reset(self) -> None:
        raise NotImplementedError
