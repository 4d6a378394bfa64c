from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Iterator

import pytest

from collector.components.kit.exporterhelper.config import RetryArgs
from collector.components.kit.exporterhelper.errors import PermanentError, RetryableError
from collector.components.kit.exporterhelper.retry import Backoff, RetriesExhausted, ShutdownAbort, send_with_retry


def constant(value: float):  # type: ignore[no-untyped-def]
    return lambda: value


def test_backoff_without_jitter_grows_and_caps() -> None:
    args = RetryArgs(initial_interval=5, max_interval=30, multiplier=1.5, randomization_factor=0, max_elapsed_time=0)
    backoff = Backoff(args, start=0.0, random=constant(0.3))
    delays = [backoff.next_delay(now=0.0) for _ in range(7)]
    assert delays == pytest.approx([5, 7.5, 11.25, 16.875, 25.3125, 30, 30])


@pytest.mark.parametrize("r,factor", [(0.0, 0.5), (1.0, 0.5), (0.5, 0.5), (0.0, 0.2)])
def test_jitter_bounds(r: float, factor: float) -> None:
    args = RetryArgs(initial_interval=4, max_interval=100, multiplier=2, randomization_factor=factor, max_elapsed_time=0)
    backoff = Backoff(args, start=0.0, random=constant(r))
    for base in (4, 8, 16, 32):
        delay = backoff.next_delay(now=0.0)
        assert delay == pytest.approx(base * (1 - factor + 2 * factor * r))
        assert base * (1 - factor) <= delay <= base * (1 + factor)  # type: ignore[operator]


def test_retry_after_raises_the_delay_but_not_lowers_it() -> None:
    args = RetryArgs(initial_interval=5, randomization_factor=0, max_elapsed_time=0)
    backoff = Backoff(args, start=0.0, random=constant(0.5))
    assert backoff.next_delay(0.0, retry_after=12) == 12
    assert backoff.next_delay(0.0, retry_after=1) == pytest.approx(7.5)


def test_gives_up_when_the_next_wait_passes_max_elapsed_time() -> None:
    args = RetryArgs(initial_interval=5, max_interval=30, randomization_factor=0, max_elapsed_time=20)
    backoff = Backoff(args, start=100.0, random=constant(0.5))
    assert backoff.next_delay(100.0) == 5  # 0 + 5 <= 20
    assert backoff.next_delay(105.0) == 7.5  # 5 + 7.5 <= 20
    assert backoff.next_delay(112.5) is None  # 12.5 + 11.25 > 20


class Attempts:
    def __init__(self, outcomes: list[Exception | None]) -> None:
        self.outcomes: Iterator[Exception | None] = iter(outcomes)
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        outcome = next(self.outcomes)
        if outcome is not None:
            raise outcome


FAST = RetryArgs(initial_interval=0.001, max_interval=0.002, randomization_factor=0, max_elapsed_time=0)


def retry(attempt: Callable[[], Awaitable[None]], args: RetryArgs = FAST,
          clock: Callable[[], float] = lambda: 0.0) -> None:
    """Run the retry loop to its end: fixed jitter, never stopping, no shutdown deadline."""
    asyncio.run(send_with_retry(attempt, args, clock=clock, random=constant(0.5), stopping=asyncio.Event(),
                                deadline=lambda: None))


def test_retry_loop_succeeds_after_retryable_failures() -> None:
    attempts = Attempts([RetryableError("503"), RetryableError("503"), None])
    retry(attempts)
    assert attempts.calls == 3


def test_permanent_error_is_not_retried() -> None:
    attempts = Attempts([PermanentError("400")])
    with pytest.raises(PermanentError):
        retry(attempts)
    assert attempts.calls == 1


def test_disabled_retry_turns_retryable_into_permanent() -> None:
    attempts = Attempts([RetryableError("503")])
    with pytest.raises(PermanentError):
        retry(attempts, RetryArgs(enabled=False))
    assert attempts.calls == 1


def test_exhausted_retries() -> None:
    now = [0.0]

    async def failing() -> None:
        now[0] += 1.0  # each attempt "takes" a second of the fake clock
        raise RetryableError("503")

    args = RetryArgs(initial_interval=0.001, max_interval=0.001, randomization_factor=0, max_elapsed_time=3)
    with pytest.raises(RetriesExhausted):
        retry(failing, args, clock=lambda: now[0])
    assert now[0] == 4.0


def test_shutdown_deadline_aborts_a_retry_wait() -> None:
    async def scenario() -> int:
        attempts = Attempts([RetryableError("503", retry_after=60)] * 3)
        stopping = asyncio.Event()
        stopping.set()
        with pytest.raises(ShutdownAbort):
            await send_with_retry(attempts, FAST, clock=lambda: 0.0, random=constant(0.5), stopping=stopping,
                                  deadline=lambda: 1.0)
        return attempts.calls

    assert asyncio.run(scenario()) == 1
