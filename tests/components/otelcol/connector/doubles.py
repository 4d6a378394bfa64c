"""A BuildContext whose outputs record payloads, shared by this area's component tests."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import msgspec

from collector.components.kit.api import BuildContext, ConsumerRef, RuntimeServices
from collector.components.kit.fanout import Fanout
from collector.components.kit.registry import lookup
from collector.testing.context import WORKER_SERVICES
from collector.signals import Payload, Signal


class Recorder:
    """Stands in for everything downstream: keeps payloads and settles them like an exporter would."""

    mutates_data = False

    def __init__(self) -> None:
        self.payloads: list[Payload] = []

    async def consume(self, payload: Payload) -> None:
        self.payloads.append(payload)
        payload.settle()

    def messages(self) -> list[Any]:
        return [p.message for p in self.payloads]


class RecordingWiring:
    """Every `output` list, whatever it names, ends in the recorder of its signal."""

    def __init__(self, recorders: dict[Signal, Recorder]) -> None:
        self.recorders = recorders

    def fanout(self, owner: str, signal: Signal, refs: Sequence[ConsumerRef]) -> Fanout:
        return Fanout(owner, signal, [self.recorders[signal]])

    def receivers(self, owner: str, refs: Sequence[Any]) -> list[Any]:
        return []


def make_context(name: str, *, worker_index: int = 0, services: RuntimeServices | None = None,
                 signal: Signal | None = None) -> tuple[BuildContext, dict[Signal, Recorder]]:
    info = lookup(name)
    assert info is not None, name
    recorders = {sig: Recorder() for sig in Signal}
    ctx = BuildContext(
        component_id=f"{name}.test",
        info=info,
        storage_path=Path("data-test"),
        http_listen_addr="127.0.0.1:12345",
        process_role=f"worker {signal.value if signal else 'traces'}/{worker_index}",
        worker_signal=signal,
        worker_index=worker_index,
        logger=logging.getLogger(f"test.{name}"),
        wiring=RecordingWiring(recorders),
        services=services or WORKER_SERVICES,
    )
    return ctx, recorders


def decode_args(name: str, values: dict[str, Any]) -> Any:
    """defaults -> convert -> validate, as the configuration loader does."""
    info = lookup(name)
    assert info is not None
    values = {"output": {}, **values}
    args = msgspec.convert(values, info.arguments)
    args.validate()
    return args


OUTPUT_ALL = {"output": {sig.value: [ConsumerRef("next", frozenset(Signal))] for sig in Signal}}
