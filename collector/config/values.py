"""Run-time values of the configuration language.

Alloy values map onto Python: number -> int | float, string -> str, bool -> bool, null -> None,
array -> list, object -> dict[str, Any], function -> `Function`, secret -> `Secret`; any other object
is a capsule (an opaque value such as a `ConsumerRef`), displayed with `str()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


class Secret(str):
    """A string that must not be displayed: the UI and logs show `(secret)` instead."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "(secret)"


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    call: Callable[..., Any]
