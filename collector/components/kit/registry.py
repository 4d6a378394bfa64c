"""The component table: Alloy name -> declaration. Adding a component is one module with one
`@register(...)` plus its name in `collector/components/kit/catalog.py`. Modules are imported on first lookup."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Callable, Iterable, TypeVar

import msgspec

from collector.components.kit.api import Component, Placement, Stability
from collector.signals import Signal


@dataclass(frozen=True, slots=True)
class ComponentInfo:
    name: str
    arguments: type[msgspec.Struct]
    factory: type[Component]
    accepts: frozenset[Signal]
    emits: frozenset[Signal]
    placement: Placement
    stability: Stability
    # names of exports that receive data ("input", "receiver"): references to them make data flow
    # from the referencing component to the referenced one (Alloy's UI data-flow rule).
    sink_exports: frozenset[str]


_REGISTRY: dict[str, ComponentInfo] = {}

C = TypeVar("C", bound=type[Component])


def register(
    name: str,
    *,
    arguments: type[msgspec.Struct],
    accepts: Iterable[Signal] = (),
    emits: Iterable[Signal] = (),
    placement: Placement = Placement.WORKER,
    stability: Stability = Stability.GENERALLY_AVAILABLE,
    sink_exports: Iterable[str] = ("input", "receiver"),
    table: dict[str, ComponentInfo] | None = None,
) -> Callable[[C], C]:
    """Declare a component class under its Alloy name. `table` is for tests that keep throw-away
    components out of the shared registry (they hand their table to the loader)."""
    target = _REGISTRY if table is None else table

    def decorate(cls: C) -> C:
        if name in target:
            raise RuntimeError(f"component {name} registered twice")
        info = ComponentInfo(
            name=name,
            arguments=arguments,
            factory=cls,
            accepts=frozenset(accepts),
            emits=frozenset(emits),
            placement=placement,
            stability=stability,
            sink_exports=frozenset(sink_exports),
        )
        cls.info = info
        target[name] = info
        return cls

    return decorate


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
