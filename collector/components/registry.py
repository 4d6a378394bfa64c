"""The component table: Alloy name -> declaration. Adding a component is one module with one
`@register(...)` plus one import line in `collector/components/all.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, TypeVar

import msgspec

from collector.components.api import Component, Placement, Stability
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
) -> Callable[[C], C]:
    def decorate(cls: C) -> C:
        if name in _REGISTRY:
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
        _REGISTRY[name] = info
        return cls

    return decorate


def lookup(name: str) -> ComponentInfo | None:
    _load_all()
    return _REGISTRY.get(name)


def all_components() -> dict[str, ComponentInfo]:
    _load_all()
    return dict(_REGISTRY)


def _load_all() -> None:
    import collector.components.all  # noqa: F401  (registers every component on import)
