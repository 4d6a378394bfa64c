"""`retry_on_failure`: exponential backoff with jitter (sans-IO policy) and the async retry loop.

The policy follows the OpenTelemetry Collector (cenkalti/backoff as configured by `configretry`):
the n-th delay is `initial * multiplier**n` capped at `max_interval`, randomized uniformly within
`delay * [1 - f, 1 + f]`; a server's retry hint raises the delay to at least the hint; the request is
given up once waiting again would pass `max_elapsed_time` since the first attempt (0 = never).
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from collector.components.kit.exporterhelper.config import RetryArgs
from collector.components.kit.exporterhelper.errors import PermanentError, RetryableError


class Backoff:
    """Delays for one request; clock and randomness are injected so tests can replay sequences."""

    def __init__(self, args: RetryArgs, start: float, random: Callable[[], float]) -> None:
        self.args = args
        self.start = start
        self.random = random
        self.interval = args.initial_interval

    def next_delay(self, now: float, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None to give up."""
        args = self.args
        f = args.randomization_factor
        delay = self.interval * (1 - f + 2 * f * self.random())
        self.interval = min(self.interval * args.multiplier, args.max_interval)
        if retry_after is not None:
            delay = max(delay, retry_after)
        if args.max_elapsed_time > 0 and (now - self.start) + delay > args.max_elapsed_time:
            return None
        return delay


class RetriesExhausted(PermanentError):
    """Retryable failures lasted longer than `max_elapsed_time`."""


class ShutdownAbort(Exception):
    """The deadline of a shutdown passed while the request still waited for a retry."""


async def send_with_retry(
    attempt: Callable[[], Awaitable[None]],
    args: RetryArgs,
    *,
    clock: Callable[[], float],
    random: Callable[[], float],
    stopping: asyncio.Event,
    deadline: Callable[[], float | None],
) -> None:
    """Run `attempt` until it succeeds; raise PermanentError (incl. RetriesExhausted) or ShutdownAbort.

    `stopping` is set when shutdown begins: retries continue until `deadline()` (monotonic) and a
    request whose next wait would pass it is aborted instead, so shutdown is never held hostage by
    a backend that is down.
    """
    backoff: Backoff | None = None
    while True:
        try:
            await attempt()
            return
        except RetryableError as error:
            if not args.enabled:
                raise PermanentError(f"{error} (retry_on_failure disabled)") from error
            now = clock()
            if backoff is None:
                backoff = Backoff(args, now, random)
            delay = backoff.next_delay(now, error.retry_after)
            if delay is None:
                raise RetriesExhausted(f"no more retries left: {error}") from error
            limit = deadline()
            if limit is not None and now + delay > limit:
                raise ShutdownAbort(str(error)) from error
            if not stopping.is_set():
                try:
                    await asyncio.wait_for(stopping.wait(), delay)
                except asyncio.TimeoutError:
                    continue
                # shutdown began during the wait: check the deadline, then finish the wait
                limit = deadline()
                if limit is not None and now + delay > limit:
                    raise ShutdownAbort(str(error)) from error
                remaining = now + delay - clock()
                if remaining > 0:
                    await asyncio.sleep(remaining)
            else:
                await asyncio.sleep(delay)
