"""Ring micro-benchmark: `python -m bench.ring_bench [--rounds 3] [--sizes 100,4096,65536,1048576]`.

Put+get throughput of `collector.runtime.ring.Ring` against `faster_fifo.Queue` for several record
sizes, in one process and across two processes (producer child started with the spawn method,
consumer in this process). faster-fifo is given an identity `dumps` and `loads=bytes`, so neither
side pickles and both copy each record in once and out once; it runs both one record per call and
batched (`put_many`/`get_many`, 64 records). The ring always moves one record per call and frees
space once per burst, as a worker would.

Reported per case (median of the rounds): records/s, MB/s, and CPU-microseconds per record summed
over both processes (robust to a busy machine). Results are printed as a table and written as JSON
(with the machine) to bench/results/ring-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import queue
import select
import statistics
import time
from importlib import metadata
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable

import faster_fifo

from collector.runtime.ring import Doorbell, RecordHeader, Ring
from bench.procstat import cpu_model

RESULTS = Path(__file__).resolve().parent / "results"
CAPACITY = 8 << 20
BATCH = 64
VOLUME = 192 << 20  # bytes moved per case (bounded by MAX_RECORDS)
MAX_RECORDS = 200_000
HEADER = RecordHeader(1, 0, 0)


def _identity(data: bytes) -> bytes:
    return data


def record_count(size: int) -> int:
    return max(128, min(MAX_RECORDS, VOLUME // size))


def burst(size: int) -> int:
    """Records per burst: a batch, but never more than half the queue holds."""
    return max(1, min(BATCH, CAPACITY // 2 // (size + 64)))


# --- same process ---------------------------------------------------------------------------------
def same_ring(size: int, count: int) -> None:
    data, k = b"r" * size, burst(size)
    ring = Ring.create(CAPACITY)
    try:
        done = 0
        while done < count:
            n = min(k, count - done)
            for _ in range(n):
                if not ring.try_put(HEADER, data):
                    raise RuntimeError("ring full in a burst that fits")
            last = None
            while (record := ring.next_record()) is not None:
                last = record
            assert last is not None
            ring.release_to(last.end)
            done += n
    finally:
        ring.close()
        ring.unlink()


def same_fifo(size: int, count: int, many: bool) -> None:
    data, k = b"f" * size, burst(size)
    q = faster_fifo.Queue(CAPACITY, loads=bytes, dumps=_identity)
    done = 0
    while done < count:
        n = min(k, count - done)
        if many:
            q.put_many_nowait([data] * n)
            got = 0
            while got < n:
                got += len(q.get_many_nowait(max_messages_to_get=n - got))
        else:
            for _ in range(n):
                q.put_nowait(data)
            for _ in range(n):
                q.get_nowait()
        done += n
    q.close()


# --- across processes -------------------------------------------------------------------------------
def ring_producer(name: str, data_bell: Doorbell, space_bell: Doorbell, size: int, count: int, conn: Connection) -> None:
    ring = Ring.attach(name)
    data = b"p" * size
    conn.send("ready")
    conn.recv()
    start = time.process_time()
    since_ring = 0
    for _ in range(count):
        while not ring.try_put(HEADER, data):
            data_bell.ring()
            since_ring = 0
            space_bell.drain()
            if not ring.try_put(HEADER, data):
                select.select([space_bell.fd], [], [], 0.05)
                continue
            break
        since_ring += 1
        if since_ring >= BATCH:
            data_bell.ring()
            since_ring = 0
    data_bell.ring()
    conn.send(time.process_time() - start)
    ring.close()


def fifo_producer(q: Any, size: int, count: int, many: bool, conn: Connection) -> None:
    data = b"p" * size
    k = burst(size)
    conn.send("ready")
    conn.recv()
    start = time.process_time()
    if many:
        done = 0
        while done < count:
            n = min(k, count - done)
            q.put_many([data] * n, block=True, timeout=60.0)
            done += n
    else:
        for _ in range(count):
            q.put(data, block=True, timeout=60.0)
    conn.send(time.process_time() - start)


def _run_cross(target: Callable[..., None], args: tuple[Any, ...], consume: Callable[[], None]) -> tuple[float, float]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(*args, child))
    proc.start()
    try:
        assert parent.recv() == "ready"
        wall0, cpu0 = time.perf_counter(), time.process_time()
        parent.send("go")
        consume()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        cpu += parent.recv()
    finally:
        proc.join(timeout=60)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return wall, cpu


def cross_ring(size: int, count: int) -> tuple[float, float]:
    ring, data_bell, space_bell = Ring.create(CAPACITY), Doorbell.create(), Doorbell.create()

    def consume() -> None:
        got = 0
        while got < count:
            data_bell.drain()
            last = None
            while (record := ring.next_record()) is not None:
                last = record
                got += 1
            if last is not None:
                ring.release_to(last.end)
                space_bell.ring()
            else:
                select.select([data_bell.fd], [], [], 0.05)

    try:
        return _run_cross(ring_producer, (ring.name, data_bell, space_bell, size, count), consume)
    finally:
        ring.close()
        ring.unlink()
        data_bell.close()
        space_bell.close()


def cross_fifo(size: int, count: int, many: bool) -> tuple[float, float]:
    q = faster_fifo.Queue(CAPACITY, loads=bytes, dumps=_identity)

    def consume() -> None:
        got = 0
        while got < count:
            if many:
                got += len(q.get_many(block=True, timeout=60.0, max_messages_to_get=BATCH))
            else:
                q.get(block=True, timeout=60.0)
                got += 1

    try:
        return _run_cross(fifo_producer, (q, size, count, many), consume)
    finally:
        q.close()


# --- runner -------------------------------------------------------------------------------------------
def measure_same(fn: Callable[[], None]) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall0, time.process_time() - cpu0


def cases(size: int, count: int) -> dict[tuple[str, str], Callable[[], tuple[float, float]]]:
    return {
        ("same", "ring"): lambda: measure_same(lambda: same_ring(size, count)),
        ("same", "faster_fifo"): lambda: measure_same(lambda: same_fifo(size, count, False)),
        ("same", "faster_fifo many"): lambda: measure_same(lambda: same_fifo(size, count, True)),
        ("cross", "ring"): lambda: cross_ring(size, count),
        ("cross", "faster_fifo"): lambda: cross_fifo(size, count, False),
        ("cross", "faster_fifo many"): lambda: cross_fifo(size, count, True),
    }


def machine() -> dict[str, Any]:
    cpu = cpu_model()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "faster_fifo": metadata.version("faster-fifo"),
        "loadavg": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ring_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="100,4096,65536,1048576")
    parser.add_argument("--out", type=Path, default=None, help="JSON output (default bench/results/ring-<time>.json)")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'size':>8} {'mode':5} {'queue':17} {'records/s':>11} {'MB/s':>8} {'cpu-us/rec':>10}  [records/s min-max]")
    for size in (int(s) for s in args.sizes.split(",")):
        count = record_count(size)
        for (mode, impl), run in cases(size, count).items():
            rounds = [run() for _ in range(args.rounds)]
            rates = [count / wall for wall, _ in rounds]
            rate = statistics.median(rates)
            cpu_us = statistics.median(cpu for _, cpu in rounds) / count * 1e6
            row = {"size": size, "mode": mode, "queue": impl, "records": count, "records_per_s": rate,
                   "mb_per_s": rate * size / 1e6, "cpu_us_per_record": cpu_us,
                   "records_per_s_min": min(rates), "records_per_s_max": max(rates)}
            rows.append(row)
            print(f"{size:>8} {mode:5} {impl:17} {rate:>11,.0f} {row['mb_per_s']:>8,.0f} {cpu_us:>10.2f}"
                  f"  [{min(rates):,.0f}-{max(rates):,.0f}]", flush=True)
    out = args.out or RESULTS / f"ring-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), "args": {"rounds": args.rounds, "sizes": args.sizes},
                               "results": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
