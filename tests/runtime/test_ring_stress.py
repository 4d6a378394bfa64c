"""Multi-process stress: producers and consumers in separate processes, one consumer SIGKILLed.

Each ring gets a producer process and a consumer process started with subprocess (as the
supervisor does), sharing an eventfd doorbell. Records run from 1 byte to several MiB; each carries
its index and a CRC32 of its body (records shorter than that header have a fixed, index-derived
content). Consumers log every delivered and every released record with unbuffered writes, so the
log survives SIGKILL. One consumer stops mid-stream holding read-but-unreleased records, is killed,
and a new consumer resumes on the same ring. A consumer woken with nothing new to read releases what
it holds, as a worker's batch times out: a producer waiting for room rings it, and after an early
wrap (ring.py point 8) the skipped bytes stay in use until the records before them are released.

This file is also the child program: `python test_ring_stress.py producer|consumer ...`.
"""

from __future__ import annotations

import os
import random
import select
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections import deque
from pathlib import Path

import pytest

from collector.runtime.ring import Doorbell, RecordHeader, Ring

ROOT = Path(__file__).resolve().parents[2]
PREFIX = struct.Struct("<QI")  # record index, crc32 of the rest
COUNT = 500
HOLD = 5  # records a consumer keeps read but unreleased, as a worker with batches in flight does
CAPACITY = 5 << 20


def record_sizes(seed: int, count: int) -> list[int]:
    rnd = random.Random(seed)
    sizes = []
    for i in range(count):
        if i % 125 == 60:
            sizes.append(rnd.randint(2 << 20, 4 << 20))  # several MiB: most of the ring
        elif rnd.random() < 0.05:
            sizes.append(rnd.randint(64 << 10, 512 << 10))
        elif rnd.random() < 0.25:
            sizes.append(rnd.randint(200, 64 << 10))
        else:
            sizes.append(rnd.randint(1, 200))
    return sizes


def make_body(index: int, size: int) -> bytes:
    if size < PREFIX.size:
        return bytes([index % 251]) * size
    rest = random.Random(index).randbytes(size - PREFIX.size)
    return PREFIX.pack(index, zlib.crc32(rest)) + rest


def body_problem(index: int, size: int, body: bytes) -> str | None:
    if len(body) != size:
        return f"length {len(body)} != {size}"
    if size < PREFIX.size:
        return None if body == bytes([index % 251]) * size else "content"
    got_index, crc = PREFIX.unpack_from(body)
    if got_index != index:
        return f"carries index {got_index}"
    if zlib.crc32(memoryview(body)[PREFIX.size :]) != crc:
        return "crc mismatch"
    return None


# --- child programs ---------------------------------------------------------------------------
def run_producer(name: str, bell_fd: int, seed: int, count: int) -> None:
    ring, bell = Ring.attach(name), Doorbell.from_fd(bell_fd)
    for index, size in enumerate(record_sizes(seed, count)):
        body = make_body(index, size)
        header = RecordHeader(index % 3, seed, time.monotonic_ns())
        while not ring.try_put(header, body):
            bell.ring()
            time.sleep(0.0005)  # back-off of this test producer; a receiver would refuse instead
        bell.ring()
    ring.close()


def run_consumer(name: str, bell_fd: int, seed: int, count: int, log: str, stall_after: int) -> None:
    ring, bell = Ring.attach(name), Doorbell.from_fd(bell_fd)
    sizes = record_sizes(seed, count)
    out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    held: deque[tuple[int, int]] = deque()  # (seq, end) read but not released
    delivered = 0
    while True:
        bell.drain()
        got = 0
        while (record := ring.next_record()) is not None:
            got += 1
            problem = body_problem(record.seq, sizes[record.seq], record.data)
            if record.header.component != seed:
                problem = f"header {record.header}"
            os.write(out, f"D {record.seq}{' BAD ' + problem if problem else ''}\n".encode())
            delivered += 1
            held.append((record.seq, record.end))
            if record.seq == count - 1:
                while held:
                    seq, end = held.popleft()
                    ring.release_to(end)
                    os.write(out, f"R {seq}\n".encode())
                os.write(out, b"DONE\n")
                ring.close()
                return
            if len(held) > HOLD:
                seq, end = held.popleft()
                ring.release_to(end)
                os.write(out, f"R {seq}\n".encode())  # logged after the release: a logged release happened
            if delivered == stall_after:
                os.write(out, b"STALLED\n")
                while True:
                    signal.pause()  # hold the unreleased records until the test kills us
        if not got:
            while held:
                seq, end = held.popleft()
                ring.release_to(end)
                os.write(out, f"R {seq}\n".encode())
        select.select([bell.fd], [], [], 1.0)


def main(argv: list[str]) -> None:
    role, name, fd, seed, count = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    if role == "producer":
        run_producer(name, fd, seed, count)
    else:
        run_consumer(name, fd, seed, count, argv[5], int(argv[6]))


# --- the test ---------------------------------------------------------------------------------
def spawn(bell: Doorbell, *args: object) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.Popen(
        [sys.executable, __file__, *map(str, args)], cwd=ROOT, env=env, pass_fds=(bell.fd,)
    )


def wait_for_line(log: Path, line: str, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if log.exists() and line in log.read_text().splitlines():
            return
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited with {proc.returncode} before writing {line!r}")
        time.sleep(0.01)
    raise AssertionError(f"{log} never got {line!r}")


def parse(log: Path) -> tuple[list[int], list[int], list[str]]:
    delivered, released, bad = [], [], []
    for line in log.read_text().splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "D":
            delivered.append(int(rest.split()[0]))
            if "BAD" in rest:
                bad.append(line)
        elif kind == "R":
            released.append(int(rest))
    return delivered, released, bad


@pytest.mark.timeout(120)
def test_rings_across_processes_survive_a_killed_consumer(tmp_path: Path) -> None:
    seeds = [11, 22, 33]
    victim = 11
    stall_after = COUNT // 2
    rings = [Ring.create(CAPACITY, checksum=(seed == 33)) for seed in seeds]
    bells = [Doorbell.create() for _ in seeds]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        consumers: dict[int, subprocess.Popen[bytes]] = {}
        for seed, ring, bell in zip(seeds, rings, bells):
            stall = stall_after if seed == victim else 0
            consumers[seed] = spawn(bell, "consumer", ring.name, bell.fd, seed, COUNT, tmp_path / f"{seed}.log", stall)
            procs.append(consumers[seed])
            procs.append(spawn(bell, "producer", ring.name, bell.fd, seed, COUNT))

        deadline = time.monotonic() + 90
        first_log = tmp_path / f"{victim}.log"
        wait_for_line(first_log, "STALLED", consumers[victim], deadline)
        consumers[victim].send_signal(signal.SIGKILL)
        assert consumers[victim].wait(timeout=30) == -signal.SIGKILL
        vi = seeds.index(victim)
        second_log = tmp_path / f"{victim}.restart.log"
        procs.append(spawn(bells[vi], "consumer", rings[vi].name, bells[vi].fd, victim, COUNT, second_log, 0))

        for proc in procs:
            if proc is not consumers[victim]:
                assert proc.wait(timeout=max(1.0, deadline - time.monotonic())) == 0, proc.args
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for ring, bell in zip(rings, bells):
            ring.close()
            ring.unlink()
            bell.close()

    for seed in seeds:
        if seed == victim:
            continue
        delivered, released, bad = parse(tmp_path / f"{seed}.log")
        assert bad == []
        assert delivered == list(range(COUNT)), "no loss, no duplicate, in order"
        assert released == list(range(COUNT))

    before, released_before, bad_before = parse(first_log)
    after, released_after, bad_after = parse(second_log)
    assert bad_before == [] and bad_after == []
    assert before == list(range(stall_after))
    held_at_stall = stall_after - len(released_before)
    assert released_before == list(range(stall_after - held_at_stall)) and 1 <= held_at_stall <= HOLD
    # The restarted consumer starts exactly after the last released record: nothing released comes
    # again, every read-but-unreleased record does, and then the stream goes on to the end.
    assert after == list(range(released_before[-1] + 1, COUNT))
    duplicates = sorted(set(before) & set(after))
    assert duplicates == list(range(stall_after - held_at_stall, stall_after))
    assert released_after == after


if __name__ == "__main__":
    main(sys.argv[1:])
