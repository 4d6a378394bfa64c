"""Process topology settings from the environment, validated once at start-up.

Defaults follow the CPU count: the receiver process and each signal's workers compete for the same
cores, and a worker is CPU-bound Python, so one worker per signal per four cores (at least one) keeps
a small host from oversubscribing while a large one scales out. Metrics get the same count as
traces: remote write encoding is the costliest per item.

`COLLECTOR_WORKERS_MODE=inline` is the small-host mode: the receivers' and workers' event loops run
inside the supervisor process instead of child processes (`collector/runtime/inline.py`), over the
same rings, doorbells and acknowledgements. One interpreter instead of five saves most of the
memory on a host where one core is plenty; it gives up the parallelism and the isolation of a crash
(a crashed pipeline part is restarted in the process, a crashed process restarts everything from the
rings it left). It runs one receiver and one worker per signal, so the count variables may only say 1.
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
ENV_WORKERS_MODE = "COLLECTOR_WORKERS_MODE"
WORKERS_MODES = ("processes", "inline")
ENV_FORK_SERVER = "COLLECTOR_FORK_SERVER"
_SWITCH = {"on": True, "true": True, "1": True, "off": False, "false": False, "0": False}

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
    inline: bool = False  # receivers and workers run inside the supervisor process
    fork_server: bool = True  # children are forked from a preloaded process (collector/runtime/forkserver.py)

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
    mode = (env.get(ENV_WORKERS_MODE) or "processes").strip().lower()
    if mode not in WORKERS_MODES:
        raise SettingsError(f"{ENV_WORKERS_MODE}={env.get(ENV_WORKERS_MODE)!r}: expected one of {', '.join(WORKERS_MODES)}")
    inline = mode == "inline"
    default = 1 if inline else default_workers(cores)
    limit = 1 if inline else MAX_PROCESSES
    try:
        workers = {signal: _positive_int(env, name, default, limit) for signal, name in ENV_WORKERS.items()}
        receivers = _positive_int(env, ENV_RECEIVERS, 1, limit)
    except SettingsError as err:
        if inline:
            raise SettingsError(f"{err} with {ENV_WORKERS_MODE}=inline (one receiver and one worker per signal)") from None
        raise
    ring_bytes = _positive_int(env, ENV_RING_BYTES, DEFAULT_RING_BYTES, 1 << 34)
    if ring_bytes < MIN_RING_BYTES:
        raise SettingsError(f"{ENV_RING_BYTES}={env.get(ENV_RING_BYTES)!r}: must be at least 1MiB")
    raw_fork = (env.get(ENV_FORK_SERVER) or "on").strip().lower()
    if raw_fork not in _SWITCH:
        raise SettingsError(f"{ENV_FORK_SERVER}={env.get(ENV_FORK_SERVER)!r}: expected on or off")
    return Topology(workers=workers, receiver_processes=receivers, ring_bytes=ring_bytes, inline=inline,
                    fork_server=_SWITCH[raw_fork] and not inline)
