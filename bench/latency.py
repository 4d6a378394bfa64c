"""One line summarising the latencies of valid calls measured beside an attack (rapid reset,
decode amplification): failed calls are recorded as infinity and counted, not averaged in."""

from __future__ import annotations

import statistics

FAILED = float("inf")


def summary(name: str, values: list[float]) -> str:
    ok = sorted(v for v in values if v != FAILED)
    failed = len(values) - len(ok)
    if not ok:
        return f"{name}: all {failed} calls failed"
    p99 = ok[min(len(ok) - 1, int(len(ok) * 0.99))]
    return (f"{name}: n={len(ok)} failed={failed} p50={statistics.median(ok) * 1000:.2f} ms "
            f"p99={p99 * 1000:.2f} ms max={ok[-1] * 1000:.2f} ms")
