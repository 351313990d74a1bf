"""The gateway's cached reads (disabled keys, routing metrics): a value past half its
TTL is served at once while a read replaces it in the background; only a value past its
TTL is waited for, so a value older than the TTL is never used."""

from __future__ import annotations

import asyncio

from lyra.llm.gateway import _Fresh


class Source:
    """A database read the test releases by hand; counts the reads."""

    def __init__(self) -> None:
        self.reads = 0
        self.value = "v0"
        self.gate = asyncio.Event()

    async def load(self) -> str:
        self.reads += 1
        await self.gate.wait()
        return self.value


class Clock:
    """Seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def read_once(ttl_s: float) -> tuple[_Fresh[str], Source, Clock]:
    source, clock = Source(), Clock()
    fresh = _Fresh(ttl_s, source.load, clock)
    source.gate.set()
    assert await fresh.get() == "v0"
    source.gate.clear()
    source.value = "v1"
    return fresh, source, clock


async def test_a_value_past_half_its_ttl_is_served_while_it_is_read_again() -> None:
    fresh, source, clock = await read_once(10.0)
    clock.now += 4.0
    assert await fresh.get() == "v0"
    await asyncio.sleep(0)
    assert source.reads == 1  # young: not read again
    clock.now += 2.0  # past half the TTL, within it
    assert await fresh.get() == "v0"  # served at once, while...
    assert await fresh.get() == "v0"
    await asyncio.sleep(0)
    assert source.reads == 2  # ...one read is under way, not two
    source.gate.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert await fresh.get() == "v1"


async def test_a_value_past_its_ttl_is_waited_for() -> None:
    fresh, source, clock = await read_once(10.0)
    clock.now += 10.5
    waiting = asyncio.ensure_future(fresh.get())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done()  # the stale value is not served
    source.gate.set()
    assert await waiting == "v1"
