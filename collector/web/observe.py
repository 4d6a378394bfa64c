"""What the UI knows beyond the supervisor's own state: rates, inferred health, recent errors, CPU.

One `Observer` lives in the admin server; its `tick` runs every few seconds in a background task.
Everything it computes comes from the merged counters and the children's health reports, so the
pages show what the processes measured, never an estimate dressed up as a measurement.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import psutil

from collector.runtime.view import running_pid
from collector.web.procmem import pss_split
from collector.web.rates import DerivedHealth, Key, RateTracker, derive_health, read_counters

if TYPE_CHECKING:
    from collector.runtime.view import SupervisorView

log = logging.getLogger(__name__)

RECENT_ERRORS = 20


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    at: float
    message: str


# The process table (CPU, RSS and PSS by kind, read from /proc) is sampled only while someone reads it,
# and for this long after: reading every process's smaps_rollup each tick was most of an idle
# collector's CPU.
PROCESSES_WATCH_SECONDS = 60.0


class Observer:
    def __init__(self, supervisor: SupervisorView, registry: Any, *, interval: float = 2.0, window: float = 10.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.supervisor = supervisor
        self.registry = registry
        self.interval = interval
        self.window = window
        self.clock = clock
        self.rates = RateTracker(window)
        self.derived: dict[str, DerivedHealth] = {}
        self.errors: dict[str, deque[ErrorEntry]] = {}
        self._last_health: dict[str, tuple[str, str]] = {}
        self._processes: dict[int, psutil.Process] = {}
        self.cpu: dict[int, float] = {}
        self.rss: dict[int, int] = {}
        self.memory: dict[int, dict[str, int]] = {}  # PSS by kind (`procmem.pss_split`)
        self.last_tick: float | None = None
        self._processes_read = float("-inf")  # monotonic time the process table was last asked for

    # --- sampling --------------------------------------------------------------------------------
    def tick(self) -> None:
        now = self.clock()
        self.observe(now, read_counters(self.registry))
        if self._processes_watched():
            self._sample_processes()

    def watch_processes(self) -> None:
        """The process table is being read: sample it at every tick for `PROCESSES_WATCH_SECONDS`
        more (at once when nobody was watching, so the first answer already has memory figures)."""
        watched = self._processes_watched()
        self._processes_read = time.monotonic()
        if not watched:
            self._sample_processes()

    def _processes_watched(self) -> bool:
        return time.monotonic() - self._processes_read < PROCESSES_WATCH_SECONDS

    def observe(self, now: float, counters: dict[Key, float]) -> None:
        """Feed one counter sample; update inferred health and the recent-error log."""
        self.rates.observe(now, counters)
        self.last_tick = now
        for component in self._senders(counters):
            failed = self._window_delta(component, "failed")
            sent = self._window_delta(component, "sent")
            derived = derive_health(self.derived.get(component), failed, sent, self.window, now,
                                    self._waiting(component))
            if derived is not None:
                self.derived[component] = derived
        for component, health in self.health().items():
            seen = (health["state"], health["message"])
            if health["state"] == "unhealthy" and self._last_health.get(component) != seen:
                self.errors.setdefault(component, deque(maxlen=RECENT_ERRORS)).append(
                    ErrorEntry(health.get("updated") or now, health["message"]))
            self._last_health[component] = seen

    def _senders(self, counters: dict[Key, float]) -> set[str]:
        """Components that talk to a backend: a failure counter, or nothing downstream in the graph.
        (A processor's "sent" says nothing about a backend.)"""
        pipeline = self.supervisor.pipeline
        sinks = {cid for cid in pipeline.nodes if not pipeline.edges_from(cid) and pipeline.edges_to(cid)}
        return sinks | {c for (c, stat, _s) in counters if stat == "failed" and c in pipeline.nodes}

    def _waiting(self, component: str) -> float | None:
        """Items handed to `component` and not yet settled, once a full window has been measured:
        its own queue gauge, or what its upstreams sent it minus what it sent, failed or dropped."""
        if self.rates.span < self.window:
            return None
        queued = self.rates.component_total(component, "queue_size") or 0.0
        handed = 0.0
        for edge in self.supervisor.pipeline.edges_to(component):
            if edge.signal is not None:
                handed += sum(v for (c, stat, sig), v in self.rates.latest.items()
                              if c == edge.source and stat == "out" and sig == edge.signal.value)
        settled = sum(self.rates.component_total(component, stat) or 0.0 for stat in ("sent", "failed", "dropped",
                                                                                   "refused"))
        return max(queued, handed - settled)

    def _window_delta(self, component: str, stat: str) -> float | None:
        deltas = [self.rates.delta(k) for k in self.rates.latest if k[0] == component and k[1] == stat]
        known = [d for d in deltas if d is not None]
        return sum(known) if known else None

    def _sample_processes(self) -> None:
        pids = {p for p in (running_pid(c) for c in self.supervisor.children.values()) if p}
        pids.add(os.getpid())
        if self.supervisor.fork_server_pid:
            pids.add(self.supervisor.fork_server_pid)
        for pid in list(self._processes):
            if pid not in pids:
                del self._processes[pid]
                self.cpu.pop(pid, None)
                self.rss.pop(pid, None)
                self.memory.pop(pid, None)
        for pid in pids:
            split = pss_split(pid)
            if split is not None:
                self.memory[pid] = split
            try:
                proc = self._processes.get(pid)
                if proc is None:
                    proc = self._processes[pid] = psutil.Process(pid)
                    proc.cpu_percent(None)  # the first call only starts the measurement
                    self.cpu.pop(pid, None)
                else:
                    self.cpu[pid] = proc.cpu_percent(None)
                self.rss[pid] = proc.memory_info().rss
            except psutil.Error:
                self._processes.pop(pid, None)

    async def run(self) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # the UI must never take the supervisor down
                log.exception("sampling self-metrics for the web UI failed")
            await asyncio.sleep(self.interval)

    # --- views -----------------------------------------------------------------------------------
    def health(self) -> dict[str, dict[str, Any]]:
        """Each component's displayed health: the worst of what its processes report and what its
        send counters imply (reference C.3: healthy < unknown < unhealthy < exited)."""
        rank = {"healthy": 0, "unknown": 1, "unhealthy": 2, "exited": 3}
        merged: dict[str, dict[str, Any]] = {}
        reported = self.supervisor.component_health()
        for cid, node in self.supervisor.pipeline.nodes.items():
            health = reported.get(cid)
            if health is None:
                health = _static_health(node.info.placement.value)
            health = dict(health)
            derived = self.derived.get(cid)
            if derived is not None and rank[derived.state] >= rank.get(health["state"], 1):
                health = {"state": derived.state, "message": derived.message, "updated": derived.updated,
                          "derived": True}
            merged[cid] = health
        return merged


def _static_health(placement: str) -> dict[str, Any]:
    if placement == "nowhere":
        return {"state": "healthy", "message": "component evaluated", "updated": None}
    if placement == "supervisor":
        return {"state": "healthy", "message": "component evaluated (served by the supervisor)", "updated": None}
    return {"state": "unknown", "message": "no process has reported this component yet", "updated": None}
