"""What the admin server and the self-metrics may see of the supervisor: a read-only view.

The web layer and `/metrics` only read the supervisor's state (the pipeline, its children, the rings)
and ask for one action (a reload). They depend on these Protocols instead of the `Supervisor` class,
so `runtime.supervisor` can start the web server without the two packages importing each other, and
a test can hand the web layer a small fake instead of a running supervisor.

This module imports nothing from `collector.runtime.supervisor` or `collector.web`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from collector.pipeline.loader import Pipeline
from collector.runtime.spec import ChildSpec
from collector.signals import Signal

RingKey = tuple[int, Signal, int]
"""(receiver process index, signal, worker index): one ring per receiver process and worker."""


class RingView(Protocol):
    capacity: int

    def used_bytes(self) -> int: ...


class ProcessView(Protocol):
    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...


class ChildView(Protocol):
    """One child process as the supervisor tracks it."""

    spec: ChildSpec
    ready: bool
    started_at: float
    restarts: int

    @property
    def process(self) -> ProcessView | None: ...  # read-only, so asyncio's Process satisfies it


class ReloadView(Protocol):
    ok: bool
    message: str
    at: float


class SupervisorView(Protocol):
    """The supervisor's state, read at request or scrape time. The collections are read-only
    properties so that the supervisor's concrete dicts of concrete children and rings satisfy them."""

    pipeline: Pipeline
    started_at: float
    metrics_dir: Path

    @property
    def ready(self) -> bool: ...

    @property
    def children(self) -> Mapping[str, ChildView]: ...

    @property
    def rings(self) -> Mapping[RingKey, RingView]: ...

    @property
    def last_reload(self) -> ReloadView | None: ...

    @property
    def fork_server_pid(self) -> int | None:
        """The fork server's pid (collector/runtime/forkserver.py), while one runs."""
        ...

    def component_health(self) -> dict[str, dict[str, Any]]: ...


class SupervisorControl(SupervisorView, Protocol):
    """The view plus the actions the admin server may take: `POST /-/reload`, and switching live
    debugging taps on and off in the workers (`collector/web/livedebug.py`)."""

    async def reload(self) -> ReloadView: ...

    @property
    def debug_socket(self) -> Path: ...

    def set_debug_tap(self, component_id: str, sample_prob: float) -> None: ...


class AdoptedRingView(Protocol):
    """A ring a dead predecessor left, drained by one worker until it is empty (runtime/adoption.py)."""

    worker: int
    records: int  # unsettled records it held when adopted

    @property
    def signal(self) -> Signal: ...

    @property
    def ring(self) -> RingView: ...

    @property
    def ring_name(self) -> str: ...


def adopted_rings(supervisor: SupervisorView) -> Sequence[AdoptedRingView]:
    """Rings being drained after a restart (none on a supervisor double that has no such state)."""
    return getattr(supervisor, "adopted_rings", ())


def adopted_records(supervisor: SupervisorView) -> Mapping[Signal, int]:
    """Unsettled ring records found at start-up, by signal."""
    return getattr(supervisor, "adopted_records", {})


def child_running(child: ChildView) -> bool:
    """Whether the child's process exists and has not exited."""
    return child.process is not None and child.process.returncode is None


def running_pid(child: ChildView) -> int | None:
    """The pid of a running child, None while it is down (CPU and memory are sampled by pid)."""
    return child.process.pid if child.process is not None and child_running(child) else None


def runs_inline(supervisor: SupervisorView) -> bool:
    """Whether the receivers and workers run inside the supervisor (COLLECTOR_WORKERS_MODE=inline)."""
    return bool(getattr(getattr(supervisor, "topology", None), "inline", False))
