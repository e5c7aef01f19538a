"""A fix for kopf's start-up time with indexes, applied when the operator module is imported.

Until every index holds its initial listing, kopf parks each object's worker in
`ToggleSet(all).wait_for(True)`, and every object listed adds and drops a toggle, each time waking every parked
worker through one shared asyncio.Condition. Start-up thus costs O(objects²) wake-ups: measured with kopf 1.45.2
on 2 cores, 1,600 objects took 5.5 s, 3,100 took 19 s and 5,100 took 74 s before the first check ran (a cluster
with 10,000 Secrets would wait many minutes). `StateToggleSet` has the same semantics but wakes set-waiters only
when the set's state flips; waiters on single toggles still wait on the condition, as before.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

logger = logging.getLogger("nacos_auth_guard")


class _FlipCondition(asyncio.Condition):
    """The condition a set shares with its toggles; every change also re-evaluates the set's state."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        super().__init__()
        self._on_change = on_change

    def notify_all(self) -> None:
        self._on_change()
        super().notify_all()


def state_toggle_set(base: type) -> type:
    class StateToggleSet(base):
        __doc__ = f"kopf's {base.__name__} that wakes set-waiters only when its state flips."

        def __init__(self, fn: Callable[[Iterable[bool]], bool]) -> None:
            super().__init__(fn)
            self._reached = {True: asyncio.Event(), False: asyncio.Event()}
            self._condition = _FlipCondition(self._state_changed)
            self._state_changed()

        def _state_changed(self) -> None:
            on = self.is_on()
            self._reached[on].set()
            self._reached[not on].clear()

        async def wait_for(self, __state: bool) -> None:
            wanted = bool(__state)
            while self.is_on() != wanted:   # the state may flip back before this waiter runs
                await self._reached[wanted].wait()

    return StateToggleSet


def install() -> bool:
    """Swaps kopf's ToggleSet for StateToggleSet when kopf's internals are as this was written against."""
    try:
        from kopf._cogs.aiokits import aiotoggles
    except ImportError:
        logger.warning("kopf internals changed (no aiotoggles): start-up with many objects may be slow")
        return False
    current = aiotoggles.ToggleSet
    if getattr(current, "_nacos_auth_guard", False):
        return True
    probe = current(all)
    if not all(hasattr(probe, name) for name in ("_condition", "_toggles", "_fn", "make_toggle", "drop_toggle")):
        logger.warning("kopf internals changed (ToggleSet): start-up with many objects may be slow")
        return False
    patched = state_toggle_set(current)
    patched._nacos_auth_guard = True
    aiotoggles.ToggleSet = patched
    return True
