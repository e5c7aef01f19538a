"""kube/kopf_startup.py: the ToggleSet that keeps kopf's start-up linear must behave exactly like kopf's own."""
from __future__ import annotations

import asyncio

import pytest
from kopf._cogs.aiokits import aiotoggles

from nacos_auth_guard.kube import kopf_startup

ORIGINAL = next(cls for cls in aiotoggles.ToggleSet.__mro__ if cls.__module__ == aiotoggles.__name__
                and cls.__name__ == "ToggleSet")
PATCHED = kopf_startup.state_toggle_set(ORIGINAL)


async def _trace(cls, fn) -> list:
    """States seen by waiters through a fixed script of toggle changes."""
    toggles = cls(fn)
    seen: list = []

    async def waiter(state: bool, label: str) -> None:
        await toggles.wait_for(state)
        seen.append((label, toggles.is_on()))

    first = await toggles.make_toggle(name="a")
    tasks = [asyncio.create_task(waiter(True, "on-1")), asyncio.create_task(waiter(False, "off-1"))]
    await asyncio.sleep(0)
    second = await toggles.make_toggle(True, name="b")
    await asyncio.sleep(0)
    await first.turn_to(True)
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(waiter(False, "off-2")))
    await asyncio.sleep(0)
    await second.turn_to(False)
    await asyncio.sleep(0)
    await toggles.drop_toggle(second)
    await asyncio.sleep(0)
    third = await toggles.make_toggle(name="c")
    tasks.append(asyncio.create_task(waiter(True, "on-2")))
    await asyncio.sleep(0)
    await toggles.drop_toggles([first, third])
    await asyncio.gather(*tasks)
    return sorted(seen) + [("final", toggles.is_on(), len(toggles))]


@pytest.mark.parametrize("fn", [all, any])
def test_same_semantics_as_kopfs_toggle_set(fn):
    assert asyncio.run(_trace(PATCHED, fn)) == asyncio.run(_trace(ORIGINAL, fn))


def test_single_toggle_waiters_still_wake():
    async def scenario() -> bool:
        toggles = PATCHED(all)
        toggle = await toggles.make_toggle(name="x")
        task = asyncio.create_task(toggle.wait_for(True))
        await asyncio.sleep(0)
        await toggle.turn_to(True)
        await asyncio.wait_for(task, 1)
        return toggles.is_on()
    assert asyncio.run(scenario()) is True


@pytest.mark.parametrize("cls,bound", [(PATCHED, 3), (ORIGINAL, None)], ids=["patched", "kopf"])
def test_set_waiters_wake_only_when_the_state_flips(cls, bound):
    """kopf's start-up pattern: every object adds a toggle and drops it once indexed, while all wait."""
    workers = 300

    async def scenario() -> int:
        toggles = cls(all)
        checks = 0
        original_is_on = toggles.is_on

        def counting_is_on() -> bool:
            nonlocal checks
            checks += 1
            return original_is_on()
        toggles.is_on = counting_is_on
        blocker = await toggles.make_toggle(name="blocker")
        own = [await toggles.make_toggle(name=str(i)) for i in range(workers)]
        waiting = [asyncio.create_task(toggles.wait_for(True)) for _ in range(workers)]
        await asyncio.sleep(0)
        for toggle in own:
            await toggles.drop_toggle(toggle)
            await asyncio.sleep(0)
        await toggles.drop_toggle(blocker)
        await asyncio.gather(*waiting)
        return checks

    checks = asyncio.run(scenario())
    if bound is None:   # the quadratic behaviour this module exists to avoid
        assert checks > workers * workers // 2
    else:
        assert checks <= bound * workers + 2 * workers   # a couple per waiter, one per change


def test_install_patches_kopf_once():
    assert kopf_startup.install() is True
    assert kopf_startup.install() is True
    assert getattr(aiotoggles.ToggleSet, "_nacos_auth_guard", False)
    assert ORIGINAL in aiotoggles.ToggleSet.__mro__
