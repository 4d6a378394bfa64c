"""Process topology from the environment, including the small-host mode."""

from __future__ import annotations

import pytest

from collector.runtime.settings import SettingsError, topology_from_env
from collector.signals import Signal


def test_default_is_processes_with_workers_by_core_count() -> None:
    topology = topology_from_env({}, cpu_count=8)
    assert not topology.inline
    assert dict(topology.workers) == {Signal.TRACES: 2, Signal.METRICS: 2, Signal.LOGS: 2}


def test_inline_mode_runs_one_receiver_and_one_worker_per_signal() -> None:
    topology = topology_from_env({"COLLECTOR_WORKERS_MODE": "inline"}, cpu_count=16)
    assert topology.inline
    assert dict(topology.workers) == {Signal.TRACES: 1, Signal.METRICS: 1, Signal.LOGS: 1}
    assert topology.receiver_processes == 1


def test_inline_mode_refuses_more_processes() -> None:
    with pytest.raises(SettingsError, match="COLLECTOR_RECEIVER_PROCESSES='2': must be at most 1 with "
                                             "COLLECTOR_WORKERS_MODE=inline"):
        topology_from_env({"COLLECTOR_WORKERS_MODE": "inline", "COLLECTOR_RECEIVER_PROCESSES": "2"})


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(SettingsError, match="COLLECTOR_WORKERS_MODE='threads': expected one of processes, inline"):
        topology_from_env({"COLLECTOR_WORKERS_MODE": "threads"})
