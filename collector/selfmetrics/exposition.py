"""The supervisor's `/metrics`: every child's counters merged, plus what only the supervisor knows
(rings, processes, build info)."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

import collector
from collector.runtime.view import adopted_records, adopted_rings, child_running, runs_inline

if TYPE_CHECKING:
    from collector.runtime.view import SupervisorView


class SupervisorCollector(Collector):
    """Ring fill, child processes and build info, computed at scrape time."""

    def __init__(self, supervisor: SupervisorView) -> None:
        self._supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        sup = self._supervisor
        used = GaugeMetricFamily("collector_ring_used_bytes", "Bytes held in a shared-memory ring.",
                                 labels=["signal", "worker", "receiver"])
        capacity = GaugeMetricFamily("collector_ring_capacity_bytes", "Capacity of a shared-memory ring.",
                                     labels=["signal", "worker", "receiver"])
        for (receiver, signal, worker), ring in sup.rings.items():
            labels = [signal.value, str(worker), str(receiver)]
            used.add_metric(labels, ring.used_bytes())
            capacity.add_metric(labels, ring.capacity)
        yield used
        yield capacity
        adopted = CounterMetricFamily("collector_ring_adopted_records",
                                      "Unsettled ring records a previous run left, adopted at start-up.",
                                      labels=["signal"])
        for signal, records in adopted_records(sup).items():
            adopted.add_metric([signal.value], records)
        yield adopted
        draining = GaugeMetricFamily("collector_ring_adopted_used_bytes",
                                     "Bytes still held in adopted rings of a previous run being drained.",
                                     labels=["signal", "worker"])
        for leftover in adopted_rings(sup):
            draining.add_metric([leftover.signal.value, str(leftover.worker)], leftover.ring.used_bytes())
        yield draining
        restarts = GaugeMetricFamily("collector_process_restarts", "Restarts of a child process.", labels=["process"])
        up = GaugeMetricFamily("collector_process_up", "Whether a child process is running.", labels=["process"])
        for key, child in sup.children.items():
            restarts.add_metric([key], child.restarts)
            up.add_metric([key], 1 if child_running(child) else 0)
        yield restarts
        yield up
        info = GaugeMetricFamily("collector_build_info", "Build information.",
                                 labels=["version", "pythonversion", "goos", "goarch"])
        info.add_metric([collector.__version__, platform.python_version(), platform.system().lower(),
                         platform.machine()], 1)
        yield info


class InProcessCollector(Collector):
    """The components' counters when they run in this process (small-host mode): they were created
    before any multiprocess directory existed, so they live in prometheus_client's default registry.
    Its process and interpreter families are left out; the supervisor's registry has its own."""

    def collect(self) -> Iterator[Metric]:
        from prometheus_client import REGISTRY

        for family in REGISTRY.collect():
            if not family.name.startswith(("process_", "python_")):
                yield family


def build_registry(supervisor: SupervisorView, metrics_dir: Path) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=str(metrics_dir))
    if runs_inline(supervisor):
        registry.register(InProcessCollector())
    ProcessCollector(registry=registry)
    registry.register(SupervisorCollector(supervisor))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
