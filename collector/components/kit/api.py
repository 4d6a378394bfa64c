"""The contract between a component and the runtime that hosts it.

Modelled on Alloy's Arguments/Exports and the OpenTelemetry Collector's component helpers, in our
own words. A component is declared once, in the module (or package) whose path is its Alloy name
(`otelcol.processor.batch` -> `collector/components/otelcol/processor/batch/`), with:

* `Arguments`: a frozen `msgspec.Struct` holding Alloy's defaults. Decoding a configuration block is
  always defaults -> convert the evaluated values -> `validate()` (cross-field rules, raising
  `ArgumentError` with the offending attribute so the error points at it in the file).
* `Exports`: a frozen `msgspec.Struct` of the values other components may reference (`input`,
  `receiver`, `targets`, `output`, ...), computed by the classmethod `exports(ctx, args)` without
  running anything, so every process can evaluate the whole configuration and build the same graph.
  Components that accept OTLP data default to `InputExports`; those that export nothing to
  `NoExports`.
* a class derived from `Component[Arguments]`, decorated with `@register(...)` naming the component,
  its Arguments and Exports, which signals it accepts and emits, and where it runs (`Placement`).

What the runtime hands a component is a `BuildContext`, typed end to end:

* `output`: if the Arguments have an `output { traces = [...] ... }` block, the kit resolves it once,
  at build, into one stable `Fanout` per signal (`self.output[signal]`). A reload re-points those
  fan-outs in place; a component never looks its consumers up again. `forward_to` lists resolve the
  same way through `ctx.forward_to(refs)`.
* `RuntimeServices`: facts only some processes have (the ring admission of a receiver process, the
  run directory, how many workers share a signal). A component lists the ones it uses in its
  `needs` class variable; building it in a process that cannot provide one fails at once with an
  error naming the component, the service and the process.

Lifecycle: build (the constructor: no I/O), `start()`, `shutdown(deadline)` (drains until the
monotonic deadline; idempotent). There is no update: a reload builds a replacement for every
component whose arguments changed and shuts the old one down after the pipeline was re-pointed
(`collector.runtime.host`). The runtime starts downstream components first and stops upstream ones
first. Processors that transform one payload at a time derive from
`collector.components.kit.processorhelper.Processor`, which owns their counters, drops and errors.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Protocol, Sequence, TypeVar, runtime_checkable

import msgspec

from collector.selfmetrics.otelcol import PIPELINE_DROPPED
from collector.signals import Payload, Signal

if TYPE_CHECKING:
    from collector.components.kit.fanout import Fanout
    from collector.components.kit.registry import ComponentInfo
    from collector.transport.admission import Admission


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
    SUPERVISOR = "supervisor"  # the supervisor only
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


# --- exports -------------------------------------------------------------------------------------
class NoExports(msgspec.Struct, frozen=True):
    """A component nothing can reference (receivers, scrapers)."""


class InputExports(msgspec.Struct, frozen=True):
    """What every otelcol processor, connector and exporter exports: where to send it data."""

    input: ConsumerRef


class ReceiverExports(msgspec.Struct, frozen=True):
    """What a Prometheus sink exports: where to append samples."""

    receiver: MetricsReceiverRef


# --- run-time interfaces ------------------------------------------------------------------------
@runtime_checkable
class Consumer(Protocol):
    """Accepts OTLP payloads of the signals it was built for. Taking a payload takes ownership."""

    mutates_data: bool

    async def consume(self, payload: Payload) -> None: ...


class MetricsReceiver(Protocol):
    """Accepts Prometheus samples (`collector.protocols.prometheus.series.SampleBatch`)."""

    async def append(self, batch: Any) -> None: ...


class Wiring(Protocol):
    """How the hosting process turns references into running consumers.

    Both calls happen while a component is being built and return objects that stay valid for the
    component's life: a reload re-points them in place rather than handing out new ones.
    """

    def fanout(self, owner: str, signal: Signal, refs: Sequence[ConsumerRef]) -> Fanout: ...

    def receivers(self, owner: str, refs: Sequence[MetricsReceiverRef]) -> Sequence[MetricsReceiver]: ...


T = TypeVar("T")
A = TypeVar("A", bound=msgspec.Struct)


@dataclass
class EvalContext:
    """What the evaluation of any component's exports may depend on, besides its arguments."""

    component_id: str
    http_listen_addr: str = "127.0.0.1:12345"
    storage_path: Path = Path("data-collector")


class Service(enum.Enum):
    """A runtime fact that only some hosting processes can provide (see `RuntimeServices`)."""

    ADMISSION = "admission (the ring writer of a receiver process)"
    REUSE_PORT = "reuse_port (whether listeners share their ports with other processes)"
    RUN_DIR = "run_dir (the directory the processes of this run share)"
    WORKER_COUNT = "workers_for_signal (how many workers run this process's signal)"


@dataclass(frozen=True, slots=True)
class RuntimeServices:
    """What the hosting process offers beyond the configuration; `None` means "not here"."""

    admission: Admission | None = None
    reuse_port: bool | None = None
    run_dir: Path | None = None
    workers_for_signal: int | None = None

    def provides(self, service: Service) -> bool:
        value = {
            Service.ADMISSION: self.admission,
            Service.REUSE_PORT: self.reuse_port,
            Service.RUN_DIR: self.run_dir,
            Service.WORKER_COUNT: self.workers_for_signal,
        }[service]
        return value is not None


class MissingServiceError(RuntimeError):
    """A component needs a runtime service its hosting process cannot provide."""

    def __init__(self, component_id: str, service: Service, process_role: str) -> None:
        super().__init__(f"{component_id} needs {service.value}, which the {process_role!r} process does not "
                         "provide; the component cannot run here")
        self.component_id = component_id
        self.service = service


class _ServiceValue(Generic[T]):
    """`BuildContext.<name>`: `RuntimeServices.<name>` of the hosting process, or
    `MissingServiceError` where that process does not offer it."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, ctx: BuildContext, owner: type | None = None) -> T:
        value: T | None = getattr(ctx.services, self.name)
        if value is None:
            raise MissingServiceError(ctx.component_id, self.service, ctx.process_role)
        return value


@dataclass
class BuildContext:
    """Handed to a component instance at run time by the process that hosts it."""

    component_id: str
    info: ComponentInfo
    storage_path: Path
    http_listen_addr: str
    process_role: str  # "receiver/0", "worker traces/1", "test", ...
    worker_signal: Signal | None
    worker_index: int
    logger: logging.Logger
    wiring: Wiring
    services: RuntimeServices = field(default_factory=RuntimeServices)

    @property
    def component_storage(self) -> Path:
        """`<storage.path>/<component id>`, as Alloy lays out component data."""
        return self.storage_path / self.component_id

    def check_needs(self, needs: frozenset[Service]) -> None:
        for service in sorted(needs, key=lambda s: s.name):
            if not self.services.provides(service):
                raise MissingServiceError(self.component_id, service, self.process_role)

    def forward_to(self, refs: Sequence[MetricsReceiverRef]) -> Sequence[MetricsReceiver]:
        """The Prometheus receivers behind a `forward_to` list: a stable sequence, re-pointed on reload."""
        return self.wiring.receivers(self.component_id, refs)

    # typed access to the runtime services a component declared in `needs`
    admission: ClassVar[_ServiceValue[Admission]] = _ServiceValue(Service.ADMISSION)
    reuse_port: ClassVar[_ServiceValue[bool]] = _ServiceValue(Service.REUSE_PORT)
    run_dir: ClassVar[_ServiceValue[Path]] = _ServiceValue(Service.RUN_DIR)
    workers_for_signal: ClassVar[_ServiceValue[int]] = _ServiceValue(Service.WORKER_COUNT)


HAND_OVER_TIMEOUT: Final = 10.0  # seconds a reload waits for a successor to take what is held


class Retirement(enum.Enum):
    """Why a component instance is being shut down, which decides what happens to the payloads it
    still holds when its drain deadline passes (set by the host before `shutdown`)."""

    EXIT = "exit"  # the process stops: leave them unsettled, the next start adopts the rings
    REPLACED = "replaced"  # a reload built a successor with the same ID: hand them to it
    REMOVED = "removed"  # the component left the configuration: nobody will deliver them


class Component(Generic[A]):
    """Base class of every component's run-time object.

    Subclasses name their `Arguments` in `@register`, optionally override `exports`, and list the
    runtime services they use in `needs`. Consumers also implement `consume`. The defaults make a
    component that has nothing to start or stop.
    """

    info: ClassVar[ComponentInfo]
    mutates_data: ClassVar[bool] = False
    needs: ClassVar[frozenset[Service]] = frozenset()

    def __init__(self, ctx: BuildContext, args: A) -> None:
        ctx.check_needs(type(self).needs)
        self.ctx = ctx
        self.args: A = args
        self.health = Health()
        # per-signal fan-outs behind the `output` block (empty for components without one)
        self.output: dict[Signal, Fanout] = resolve_output(ctx, args)

    @classmethod
    def exports(cls, ctx: EvalContext, args: A) -> msgspec.Struct:
        """Default exports: otelcol components that accept data export `input`."""
        accepts = cls.info.accepts
        if accepts:
            return InputExports(ConsumerRef(ctx.component_id, accepts))
        return NoExports()

    async def start(self) -> None:
        self.health = Health(HealthState.HEALTHY, "started component")

    async def shutdown(self, deadline: float | None = None) -> None:
        """Stop, draining what is buffered until the monotonic `deadline`. Must be idempotent."""
        self.health = Health(HealthState.EXITED, "component shut down cleanly")

    async def consume(self, payload: Payload) -> None:
        raise NotImplementedError(f"{self.ctx.component_id} does not accept {payload.signal.value}")

    # set by the host just before `shutdown` (a plain process stop keeps the defaults)
    retirement: Retirement = Retirement.EXIT
    successor: Component[Any] | None = None

    async def hand_over(self, leftovers: Sequence[Payload]) -> str:
        """Dispose of what is still held at the shutdown deadline, as `retirement` says; returns
        what happened, for the one log line the caller writes.

        Leaving payloads unsettled is right only when the process exits: in a process that goes on
        running (a reload) an unsettled payload would stop its ring's read position for good, so a
        replaced instance passes them to its successor and a removed one counts them as dropped."""
        if not leftovers or self.retirement is Retirement.EXIT:
            return "left in the rings for the next start"
        if self.retirement is Retirement.REPLACED and self.successor is not None:
            refused = 0
            loop = asyncio.get_running_loop()
            deadline = loop.time() + HAND_OVER_TIMEOUT  # one bound for all: a successor whose backend
            for payload in leftovers:                   # is down must not hold the reload forever
                try:
                    await asyncio.wait_for(self.successor.consume(payload), max(0.0, deadline - loop.time()))
                except Exception:  # noqa: BLE001 - counted and logged below, like any drop
                    refused += 1
                    self._drop_held(payload, "hand-over failed")
            if refused:
                return f"handed to the component's new instance, except {refused} batches it could not take " \
                       f"within {HAND_OVER_TIMEOUT:g}s (dropped)"
            return "handed to the component's new instance"
        for payload in leftovers:
            self._drop_held(payload, "component removed")
        return "dropped: the component was removed"

    def _drop_held(self, payload: Payload, reason: str) -> None:
        """Count a payload held at retirement as dropped (`reason`) and release its ring records."""
        PIPELINE_DROPPED[payload.signal].labels(self.ctx.component_id, "/", reason).inc(payload.item_count)
        payload.settle()


def export_values(exports: msgspec.Struct) -> dict[str, Any]:
    """Typed exports as the configuration language reads them: Alloy name -> value."""
    return {alloy: getattr(exports, name) for alloy, name in _export_names(type(exports))}


@functools.lru_cache(maxsize=None)
def _export_names(kind: type[msgspec.Struct]) -> tuple[tuple[str, str], ...]:
    """(Alloy name, attribute) per field, once per exports class: `msgspec.structs.fields` resolves
    type annotations on every call, which made loading 100,000 components take minutes."""
    return tuple((f.encode_name, f.name) for f in msgspec.structs.fields(kind))


def resolve_output(ctx: BuildContext, args: msgspec.Struct) -> dict[Signal, Fanout]:
    """The one place an `output` block becomes consumers: one stable fan-out per signal."""
    output = ctx.info.output_of(args)
    if output is None:
        return {}
    return {signal: ctx.wiring.fanout(ctx.component_id, signal, output.for_signal(signal)) for signal in Signal}
