"""The component table: Alloy name -> declaration. Adding a component is one module with one
`@register(...)` plus its name in `collector/components/kit/catalog.py`. Modules are imported on first lookup.

A declaration is read once, here, so the runtime never has to guess at a component's shape: whether
its Arguments carry an `output` block (then the kit wires it, `ComponentInfo.output_of`) and which
Exports struct it promises (checked each time exports are evaluated, `ComponentInfo.evaluate_exports`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol, TypeVar, cast

import msgspec

from collector.components.kit.api import (
    Component, EvalContext, InputExports, NoExports, Placement, Stability,
)
from collector.components.kit.types import Output
from collector.signals import Signal


class _WithOutput(Protocol):
    output: Output


@dataclass(frozen=True, slots=True)
class ComponentInfo:
    name: str
    arguments: type[msgspec.Struct]
    exports: type[msgspec.Struct]
    factory: type[Component[Any]]
    accepts: frozenset[Signal]
    emits: frozenset[Signal]
    placement: Placement
    stability: Stability
    # names of exports that receive data ("input", "receiver"): references to them make data flow
    # from the referencing component to the referenced one (Alloy's UI data-flow rule).
    sink_exports: frozenset[str]
    has_output: bool  # the Arguments carry an `output` block (otelcol receivers, processors, connectors)

    def output_of(self, args: msgspec.Struct) -> Output | None:
        """The `output` block of `args`, for components declared with one."""
        return cast(_WithOutput, args).output if self.has_output else None

    def evaluate_exports(self, ctx: EvalContext, args: msgspec.Struct) -> msgspec.Struct:
        exports = self.factory.exports(ctx, args)
        if not isinstance(exports, self.exports):
            raise TypeError(f"{self.name} exported {type(exports).__name__}, not its declared "
                            f"{self.exports.__name__}")
        return exports


_REGISTRY: dict[str, ComponentInfo] = {}

C = TypeVar("C", bound=type[Component[Any]])


def register(
    name: str,
    *,
    arguments: type[msgspec.Struct],
    exports: type[msgspec.Struct] | None = None,
    accepts: Iterable[Signal] = (),
    emits: Iterable[Signal] = (),
    placement: Placement = Placement.WORKER,
    stability: Stability = Stability.GENERALLY_AVAILABLE,
    sink_exports: Iterable[str] = ("input", "receiver"),
    table: dict[str, ComponentInfo] | None = None,
) -> Callable[[C], C]:
    """Declare a component class under its Alloy name. `exports` defaults to `InputExports` for
    components that accept data and `NoExports` otherwise. `table` is for tests that keep throw-away
    components out of the shared registry (they hand their table to the loader)."""
    target = _REGISTRY if table is None else table
    accepted = frozenset(accepts)
    exports_type = exports or (InputExports if accepted else NoExports)

    def decorate(cls: C) -> C:
        if name in target:
            raise RuntimeError(f"component {name} registered twice")
        info = ComponentInfo(
            name=name,
            arguments=arguments,
            exports=exports_type,
            factory=cls,
            accepts=accepted,
            emits=frozenset(emits),
            placement=placement,
            stability=stability,
            sink_exports=frozenset(sink_exports),
            has_output=_has_output(arguments),
        )
        cls.info = info
        target[name] = info
        return cls

    return decorate


def _has_output(arguments: type[msgspec.Struct]) -> bool:
    return any(f.name == "output" and f.type is Output for f in msgspec.structs.fields(arguments))


def lookup(name: str) -> ComponentInfo | None:
    from collector.components.kit.catalog import COMPONENTS, module_of

    info = _REGISTRY.get(name)
    if info is None and name in COMPONENTS:
        importlib.import_module(module_of(name))  # its @register fills the table
        info = _REGISTRY.get(name)
    return info


class _LazyRegistry(Mapping[str, ComponentInfo]):
    """The registry as a mapping that imports a component's module when it is first asked for."""

    def __getitem__(self, name: str) -> ComponentInfo:
        info = lookup(name)
        if info is None:
            raise KeyError(name)
        return info

    def __iter__(self) -> Iterator[str]:
        from collector.components.kit.catalog import COMPONENTS

        return iter(COMPONENTS)

    def __len__(self) -> int:
        from collector.components.kit.catalog import COMPONENTS

        return len(COMPONENTS)


def all_components() -> Mapping[str, ComponentInfo]:
    """Every known component; modules load lazily (iterate to load them all)."""
    return _LazyRegistry()
