"""Theory of operation for components.

A component is declared once, in the module whose path is its Alloy name
(`otelcol.processor.batch` -> `collector/components/otelcol/processor/batch.py`), with:

* `Arguments`: a frozen `msgspec.Struct` holding Alloy's defaults. Decoding a configuration block is
  always defaults -> convert the evaluated values -> `validate()` (cross-field rules, raising
  `ArgumentError` with the offending attribute name so the error points at it in the file).
* a class derived from `Component`, decorated with `@register(...)` naming the component, its
  arguments, which signals it accepts and emits, and where it runs (`Placement`).
* `exports(ctx, args)`: the values other components may reference (`input`, `receiver`, `targets`,
  `output`, ...). Exports are computed without running anything, so every process can evaluate the
  whole configuration and build the same graph.

Every process (supervisor, receivers, workers) parses and evaluates the same configuration; each
then instantiates only the components that its role runs (see `collector.pipeline.plan`). Inside a
worker the pipeline is plain in-process calls: `await consumer.consume(payload)`.

Lifecycle is symmetric: the runtime starts downstream components first and stops upstream ones
first; `shutdown()` drains with the deadline it is given and is idempotent.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping, Protocol, runtime_checkable

import msgspec

from collector.signals import Payload, Signal

if TYPE_CHECKING:
    from collector.components.kit.registry import ComponentInfo


class ArgumentError(ValueError):
    """A component's arguments are invalid. `attribute` names the offending attribute or block
    (dotted for nested blocks, e.g. "client.endpoint") so the loader can point at it."""

    def __init__(self, message: str, attribute: str | None = None) -> None:
        super().__init__(message)
        self.attribute = attribute


class Placement(enum.Enum):
    """Which processes instantiate a component at run time."""

    RECEIVER = "receiver"  # the receiver processes (otelcol.receiver.*)
    WORKER = "worker"  # every worker process whose signal pipeline reaches the component
    SUPERVISOR = "supervisor"  # the supervisor only (e.g. prometheus.exporter.self)
    NOWHERE = "nowhere"  # pure value components: exports are all they do (discovery.relabel)


class Stability(enum.Enum):
    GENERALLY_AVAILABLE = "generally-available"
    PUBLIC_PREVIEW = "public-preview"
    EXPERIMENTAL = "experimental"


class HealthState(enum.Enum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    EXITED = "exited"


@dataclass(slots=True)
class Health:
    state: HealthState = HealthState.UNKNOWN
    message: str = "component created"


# --- capsule values carried by exports ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ConsumerRef:
    """The `input` export of an otelcol component: where to send OTLP data of the listed signals."""

    component_id: str
    signals: frozenset[Signal]
    export_name: str = "input"

    def __str__(self) -> str:
        return f"{self.component_id}.{self.export_name}"


@dataclass(frozen=True, slots=True)
class MetricsReceiverRef:
    """The `receiver` export of a Prometheus component: where to append samples."""

    component_id: str
    export_name: str = "receiver"

    def __str__(self) -> str:
        return f"{self.component_id}.{self.export_name}"


# --- run-time interfaces ------------------------------------------------------------------------
@runtime_checkable
class Consumer(Protocol):
    """Accepts OTLP payloads of the signals it was built for. Taking a payload takes ownership."""

    mutates_data: bool

    async def consume(self, payload: Payload) -> None: ...


class MetricsReceiver(Protocol):
    """Accepts Prometheus samples (`collector.protocols.prometheus` defines the batch type)."""

    async def append(self, batch: Any) -> None: ...


@dataclass
class EvalContext:
    """What the evaluation of any component's exports may depend on, besides its arguments."""

    component_id: str
    http_listen_addr: str = "127.0.0.1:12345"
    storage_path: Path = Path("data-collector")


@dataclass
class BuildContext:
    """Handed to a component instance at run time by the process that hosts it.

    `next_consumer(refs, signal)` returns one consumer that fans a payload out to every reference in
    `refs` (an `output { traces = [...] }` list), copying only when a mutating consumer is among
    them; with an empty list it returns a consumer that counts the data as dropped and settles it.
    `metrics_receivers(refs)` resolves `forward_to` lists.
    """

    component_id: str
    info: ComponentInfo
    storage_path: Path
    http_listen_addr: str
    process_role: str  # "receiver", "worker traces/1", "supervisor", ...
    worker_signal: Signal | None
    worker_index: int
    logger: logging.Logger
    next_consumer: Any = None  # Callable[[Sequence[ConsumerRef], Signal], Consumer]
    metrics_receivers: Any = None  # Callable[[Sequence[MetricsReceiverRef]], list[MetricsReceiver]]
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def component_storage(self) -> Path:
        """`<storage.path>/<component id>`, as Alloy lays out component data."""
        return self.storage_path / self.component_id


class Component:
    """Base class of every component's run-time object.

    Subclasses set `Arguments` (and optionally override `exports`). Consumers also implement
    `consume`. Defaults here make a component that has nothing to start or stop.
    """

    info: ClassVar[ComponentInfo]
    mutates_data: ClassVar[bool] = False

    def __init__(self, ctx: BuildContext, args: msgspec.Struct) -> None:
        self.ctx = ctx
        self.args = args
        self.health = Health()

    @classmethod
    def exports(cls, ctx: EvalContext, args: msgspec.Struct) -> Mapping[str, Any]:
        """Default exports: otelcol components that accept data export `input`."""
        accepts = cls.info.accepts
        if accepts:
            return {"input": ConsumerRef(ctx.component_id, accepts)}
        return {}

    async def start(self) -> None:
        self.health = Health(HealthState.HEALTHY, "started component")

    async def update(self, args: msgspec.Struct) -> None:
        """Apply new arguments on reload. The default replaces them; components with state override."""
        self.args = args

    async def shutdown(self, deadline: float | None = None) -> None:
        """Stop, draining what is buffered until the monotonic `deadline`. Must be idempotent."""
        self.health = Health(HealthState.EXITED, "component shut down cleanly")

    async def consume(self, payload: Payload) -> None:
        raise NotImplementedError(f"{self.ctx.component_id} does not accept {payload.signal.value}")
