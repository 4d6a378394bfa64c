"""A supervisor double: a real loaded pipeline, children and health set by the test."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.pipeline.loader import load
from collector.pipeline.model import Pipeline

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass
class FakeSupervisor:
    pipeline: Pipeline
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    children: dict[str, Any] = field(default_factory=dict)
    rings: dict[Any, Any] = field(default_factory=dict)
    last_reload: Any = None
    started_at: float = field(default_factory=time.time)
    ready: bool = True
    fork_server_pid: int | None = None

    def component_health(self) -> dict[str, dict[str, Any]]:
        return {cid: dict(h) for cid, h in self.health.items()}


def example(name: str) -> FakeSupervisor:
    return FakeSupervisor(load(EXAMPLES / name))
