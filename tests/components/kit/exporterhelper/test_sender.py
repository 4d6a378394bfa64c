from __future__ import annotations

import asyncio
import logging
import time
from typing import Sequence

import pytest

from collector.components.kit.exporterhelper.config import QueueArgs, RetryArgs
from collector.components.kit.exporterhelper.errors import PermanentError
from collector.components.kit.exporterhelper.sender import ExportSender, FailureLog
from collector.signals import AckToken, Payload, Signal
from tests.components.kit.exporterhelper.doubles import GatedPush
from tests.signals import otlp_data as data


def spans(n: int, token: AckToken) -> Payload:
    return data.payload(Signal.TRACES, data.traces([[n]]), token=token)


def test_failure_log_reports_at_most_once_per_interval() -> None:
    log = FailureLog(10.0)
    assert log.record(5, now=0.0) == (1, 5)
    assert log.record(3, now=1.0) is None
    assert log.record(2, now=9.0) is None
    assert log.record(1, now=10.0) == (3, 6)


def test_full_queue_makes_consume_wait_instead_of_dropping() -> None:
    async def scenario() -> None:
        push = GatedPush()
        sender = ExportSender(component_id="q", logger=logging.getLogger("q"), push=push, timeout=0,
                              queue=QueueArgs(num_consumers=1, queue_size=2), retry=RetryArgs())
        await sender.start()
        tokens = [AckToken(i) for i in range(4)]
        for token in tokens[:3]:  # one in flight, two queued
            await sender.consume(spans(1, token))
        await asyncio.sleep(0.01)
        fourth = asyncio.create_task(sender.consume(spans(1, tokens[3])))
        await asyncio.sleep(0.05)
        assert not fourth.done()  # waiting for room, not failing with "sending queue is full"
        push.gate.set()
        await asyncio.wait_for(fourth, 5)
        await sender.shutdown(time.monotonic() + 5)
        assert push.delivered == [1, 1, 1, 1]
        assert all(t.released for t in tokens)

    asyncio.run(scenario())


def test_unqueued_send_settles_on_permanent_error(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async def push(payload: Payload) -> None:
            raise PermanentError("HTTP 400: bad")

        sender = ExportSender(component_id="nq", logger=logging.getLogger("nq"), push=push, timeout=1.0,
                              queue=QueueArgs(enabled=False), retry=RetryArgs())
        await sender.start()
        tokens = [AckToken(i) for i in range(3)]
        for token in tokens:
            await sender.consume(spans(2, token))
        await sender.shutdown(time.monotonic() + 1)
        assert all(t.released for t in tokens)

    with caplog.at_level(logging.ERROR):
        asyncio.run(scenario())
    lines = [r for r in caplog.records if "Rejecting data" in r.getMessage()]
    assert len(lines) == 1 and "HTTP 400: bad" in lines[0].getMessage()


def test_push_timeout_is_retryable() -> None:
    async def scenario() -> int:
        calls = 0

        async def push(payload: Payload) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                await asyncio.sleep(10)

        sender = ExportSender(component_id="t", logger=logging.getLogger("t"), push=push, timeout=0.02,
                              queue=QueueArgs(enabled=False),
                              retry=RetryArgs(initial_interval=0.01, max_interval=0.01, max_elapsed_time=5))
        token = AckToken(1)
        await sender.consume(spans(1, token))
        assert token.released
        return calls

    assert asyncio.run(scenario()) == 2


def test_leftovers_at_the_shutdown_deadline_go_to_the_hand_over() -> None:
    """Queued payloads a down backend kept until the deadline are neither settled nor counted by the
    sender: its `hand_over` (the component's retirement policy) receives every one of them."""
    async def scenario() -> tuple[list[Payload], list[AckToken]]:
        async def push(payload: Payload) -> None:
            raise ConnectionError("backend down")

        handed: list[Payload] = []

        async def hand_over(leftovers: Sequence[Payload]) -> str:
            handed.extend(leftovers)
            return "handed to the test"

        sender = ExportSender(component_id="h", logger=logging.getLogger("h"), push=push, timeout=0,
                              queue=QueueArgs(num_consumers=1, queue_size=10),
                              retry=RetryArgs(initial_interval=0.01, max_interval=0.01), hand_over=hand_over)
        await sender.start()
        tokens = [AckToken(i) for i in range(4)]
        for token in tokens:
            await sender.consume(spans(1, token))
        await sender.shutdown(time.monotonic() + 0.2)
        return handed, tokens

    handed, tokens = asyncio.run(scenario())
    assert len(handed) == 4 and sum(p.item_count for p in handed) == 4
    assert not any(t.released for t in tokens)  # ownership went to the hand-over, unsettled
