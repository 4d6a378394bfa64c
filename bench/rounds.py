"""Alternating rounds of server variants, reported as medians: shared by the server-cost benchmarks.

Variants alternate within each round so that machine noise spreads over all of them; a variant's
figure is the median of its rounds, and each is also given relative to the first variant.
"""

from __future__ import annotations

import statistics
from typing import Callable


def run_rounds(variants: list[str], rounds: int, measure: Callable[[str], dict[str, float]], unit: str) -> None:
    """`measure(variant)` returns {"cost": us of server CPU per `unit`, "rate": units/s, "failed": n}."""
    results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    for r in range(rounds):
        for variant in variants:
            result = measure(variant)
            results[variant].append(result)
            print(f"  round {r + 1} {variant:9s} {result['cost']:7.1f} us/{unit}  "
                  f"{result['rate']:8,.0f} {unit}s/s  failed {result['failed']:.0f}", flush=True)
    base = statistics.median(x["cost"] for x in results[variants[0]])
    for variant in variants:
        cost = statistics.median(x["cost"] for x in results[variant])
        rate = statistics.median(x["rate"] for x in results[variant])
        print(f"{variant:9s} median {cost:7.1f} us of server CPU per {unit} ({cost / base:.2f}x {variants[0]})  "
              f"{rate:8,.0f} {unit}s/s")
