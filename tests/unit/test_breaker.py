"""The Redis circuit breaker: opens after failures in a row, lets one probe through."""

from __future__ import annotations

import asyncio

import pytest

from subscriptions.breaker import CircuitBreaker, CircuitOpenError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(
        name="Redis", failures=3, reset_seconds=5, counted=(OSError,), clock=clock
    )


async def fails() -> None:
    raise OSError("no answer")


async def answers() -> str:
    return "ok"


async def test_it_opens_after_the_failures_in_a_row_and_then_skips_at_once() -> None:
    circuit = breaker(Clock())
    for _ in range(2):
        with pytest.raises(OSError):
            await circuit.run(fails)
    assert circuit.state == "closed"
    with pytest.raises(OSError):
        await circuit.run(fails)
    assert circuit.state == "open"
    called = False

    async def must_not_run() -> None:
        nonlocal called
        called = True

    with pytest.raises(CircuitOpenError):
        await circuit.run(must_not_run)
    assert called is False


async def test_a_success_resets_the_count() -> None:
    circuit = breaker(Clock())
    for _ in range(2):
        with pytest.raises(OSError):
            await circuit.run(fails)
    assert await circuit.run(answers) == "ok"
    for _ in range(2):
        with pytest.raises(OSError):
            await circuit.run(fails)
    assert circuit.state == "closed"


async def test_after_the_reset_time_one_probe_goes_and_decides() -> None:
    clock = Clock()
    circuit = breaker(clock)
    circuit.trip()
    assert circuit.state == "open"
    clock.now += 5
    assert circuit.allow() is True  # the probe
    assert circuit.allow() is False  # everyone else waits for its answer
    circuit.failed()
    assert circuit.state == "open"
    assert circuit.allow() is False
    clock.now += 5
    assert await circuit.run(answers) == "ok"
    assert circuit.state == "closed"
    assert circuit.allow() is True


async def test_a_cancelled_probe_frees_the_next_one_without_counting() -> None:
    clock = Clock()
    circuit = breaker(clock)
    circuit.trip()
    clock.now += 5
    probe = asyncio.create_task(circuit.run(lambda: asyncio.sleep(60)))
    await asyncio.sleep(0)
    assert circuit.allow() is False
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert circuit.allow() is True


async def test_errors_it_does_not_count_leave_it_closed() -> None:
    circuit = breaker(Clock())

    async def bad_input() -> None:
        raise ValueError("not Redis's fault")

    for _ in range(5):
        with pytest.raises(ValueError):
            await circuit.run(bad_input)
    assert circuit.state == "closed"


def test_a_breaker_needs_a_threshold_and_a_reset_time() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(name="x", failures=0, reset_seconds=1, counted=(OSError,))
