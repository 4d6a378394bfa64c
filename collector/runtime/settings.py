"""Process topology settings from the environment, validated once at start-up.

Defaults follow the CPU count: the receiver process and each signal's workers compete for the same
cores, and a worker is CPU-bound Python, so one worker per signal per four cores (at least one) keeps
a small host from oversubscribing while a large one scales out. Metrics get the same count as
traces: remote write encoding is the costliest per item.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from collector.signals import Signal

ENV_WORKERS = {
    Signal.TRACES: "COLLECTOR_TRACES_WORKERS",
    Signal.METRICS: "COLLECTOR_METRICS_WORKERS",
    Signal.LOGS: "COLLECTOR_LOGS_WORKERS",
}
ENV_RECEIVERS = "COLLECTOR_RECEIVER_PROCESSES"
ENV_RING_BYTES = "COLLECTOR_RING_BYTES"

MIN_RING_BYTES = 1 << 20
DEFAULT_RING_BYTES = 64 << 20
MAX_PROCESSES = 64


class SettingsError(ValueError):
    """An environment variable holds a value the collector cannot run with."""


@dataclass(frozen=True)
class Topology:
    workers: Mapping[Signal, int]
    receiver_processes: int
    ring_bytes: int

    @property
    def total_workers(self) -> int:
        return sum(self.workers.values())


def default_workers(cpu_count: int) -> int:
    return max(1, cpu_count // 4)


def _positive_int(env: Mapping[str, str], name: str, default: int, maximum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip()
    multiplier = 1
    for suffix, factor in (("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30)):
        if text.endswith(suffix):
            text, multiplier = text[: -len(suffix)], factor
            break
    try:
        value = int(text) * multiplier
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: expected a positive whole number") from None
    if value < 1:
        raise SettingsError(f"{name}={raw!r}: must be at least 1")
    if value > maximum:
        raise SettingsError(f"{name}={raw!r}: must be at most {maximum}")
    return value


def topology_from_env(env: Mapping[str, str] | None = None, cpu_count: int | None = None) -> Topology:
    env = os.environ if env is None else env
    cores = cpu_count or os.cpu_count() or 1
    workers = {signal: _positive_int(env, name, default_workers(cores), MAX_PROCESSES) for signal, name in ENV_WORKERS.items()}
    receivers = _positive_int(env, ENV_RECEIVERS, 1, MAX_PROCESSES)
    ring_bytes = _positive_int(env, ENV_RING_BYTES, DEFAULT_RING_BYTES, 1 << 34)
    if ring_bytes < MIN_RING_BYTES:
        raise SettingsError(f"{ENV_RING_BYTES}={env.get(ENV_RING_BYTES)!r}: must be at least 1MiB")
    return Topology(workers=workers, receiver_processes=receivers, ring_bytes=ring_bytes)
