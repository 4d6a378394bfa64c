"""A consumer asleep in an asyncio loop wakes when another process puts a record and rings."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from collector.runtime.ring import Doorbell, RecordHeader, Ring

ROOT = Path(__file__).resolve().parents[2]

PRODUCER = """
import sys
from collector.runtime.ring import Doorbell, RecordHeader, Ring
ring, bell = Ring.attach(sys.argv[1]), Doorbell.from_fd(int(sys.argv[2]))
assert ring.try_put(RecordHeader(1, 4, 99), b"wake up")
bell.ring()
ring.close()
"""


def test_consumer_sleeping_in_event_loop_wakes_on_put_from_another_process() -> None:
    async def scenario(ring: Ring, bell: Doorbell) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()
        loop.add_reader(bell.fd, woken.set)
        try:
            assert ring.next_record() is None  # asleep with an empty ring
            env = dict(os.environ, PYTHONPATH=str(ROOT))
            producer = await asyncio.create_subprocess_exec(
                sys.executable, "-c", PRODUCER, ring.name, str(bell.fd), cwd=ROOT, env=env, pass_fds=(bell.fd,)
            )
            try:
                await asyncio.wait_for(woken.wait(), timeout=30)
            finally:
                assert await producer.wait() == 0
            rings = bell.drain()
            record = ring.next_record()
            assert record is not None
            ring.release_to(record.end)
            return rings, record.data
        finally:
            loop.remove_reader(bell.fd)

    with Ring.create(4096) as ring, Doorbell.create() as bell:
        rings, data = asyncio.run(scenario(ring, bell))
    assert rings == 1
    assert data == b"wake up"


def test_wait_helper_returns_after_ring() -> None:
    async def scenario(bell: Doorbell) -> int:
        loop = asyncio.get_running_loop()
        loop.call_soon(bell.ring)
        loop.call_soon(bell.ring)
        return await asyncio.wait_for(bell.wait(), timeout=30)

    with Doorbell.create() as bell:
        assert asyncio.run(scenario(bell)) == 2
        assert bell.drain() == 0


def test_ring_never_blocks_on_a_saturated_counter() -> None:
    with Doorbell.create() as bell:
        os.eventfd_write(bell.fd, 2**64 - 2)  # the largest value an eventfd holds
        bell.ring()  # would block (EAGAIN) on a blocking fd; must return quietly
        assert bell.drain() == 2**64 - 2
        assert bell.drain() == 0


def _ring_from_child(bell: Doorbell) -> None:
    bell.ring()
    bell.close()


def test_doorbell_passes_to_a_spawned_multiprocessing_child() -> None:
    import multiprocessing
    import select

    with Doorbell.create() as bell:
        child = multiprocessing.get_context("spawn").Process(target=_ring_from_child, args=(bell,))
        child.start()
        try:
            readable, _, _ = select.select([bell.fd], [], [], 30)
            assert readable == [bell.fd]
            assert bell.drain() == 1
        finally:
            child.join(30)
        assert child.exitcode == 0
