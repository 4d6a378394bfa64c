"""Generational expiry for per-series caches: entries not used for about a minute are dropped.

Why: the Prometheus path caches everything about a series that does not change between samples
(labels, encoded label bytes, routing), bounded only by entry count. After a burst of series the caches
would keep their memory for good; the process could not shrink back once the load stops.

How, without per-lookup bookkeeping: a cache is a `young` dict (the one the hot path reads with a plain
`.get`) and a few older dicts. `rotate()` (on a timer, every `GENERATION` seconds) pushes `young` in
front of the older dicts and, once there are more than `DEPTH` of them, returns the oldest one, whose
entries were not looked up during the last `DEPTH` full generations. A lookup that misses `young`
calls `recall()`, which moves the entry back from an older dict, so a series in use costs one extra
dict move per generation and nothing per sample. With `GENERATION` 15 s and `DEPTH` 4 an entry goes
60-75 s after its last use: a series sent at least every 60 s (the OpenTelemetry SDK's default export
interval, Alloy's default scrape interval) keeps its entry; a series that stopped is gone, and its
memory freed, within 75 s.

Single-threaded by design (one event loop per process), like the caches it holds.
"""

from __future__ import annotations

from typing import Final, Generic, Iterator, TypeVar

K = TypeVar("K")
V = TypeVar("V")

GENERATION: Final = 15.0  # seconds between `rotate()` calls
DEPTH: Final = 4  # older dicts kept: an entry goes DEPTH .. DEPTH + 1 generations after its last use
_MISSING: Final = object()


class Generations(Generic[K, V]):
    """A dict split by age; read `young` directly on the hot path, `recall()` on a miss."""

    __slots__ = ("young", "_older", "_depth")

    def __init__(self, depth: int = DEPTH) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.young: dict[K, V] = {}
        self._older: list[tuple[float, dict[K, V]]] = []  # (rotation that made it old, entries), newest first
        self._depth = depth

    def recall(self, key: K, default: V | None = None) -> V | None:
        """The entry for `key` from an older generation, made young again; `default` if there is none."""
        for _, generation in self._older:
            value = generation.pop(key, _MISSING)
            if value is not _MISSING:
                self.young[key] = value  # type: ignore[assignment]
                return value  # type: ignore[return-value]
        return default

    def get(self, key: K, default: V | None = None) -> V | None:
        """`young.get`, then `recall` (for callers off the hot path)."""
        value = self.young.get(key, _MISSING)
        if value is not _MISSING:
            return value  # type: ignore[return-value]
        return self.recall(key, default)

    def __setitem__(self, key: K, value: V) -> None:
        self.young[key] = value

    def rotate(self, now: float = 0.0) -> tuple[float, dict[K, V]]:
        """Start a new generation; returns the expired one: (when it stopped being young, its entries).

        `now` only labels the generation being retired from `young` (callers that keep state about
        expired entries use it as 'not used since')."""
        if not self.young and not self._older:
            return now, {}
        self._older.insert(0, (now, self.young))
        self.young = {}
        if len(self._older) > self._depth:
            return self._older.pop()
        return now, {}

    def clear(self) -> None:
        self.young = {}
        self._older = []

    def __len__(self) -> int:
        return len(self.young) + sum(len(generation) for _, generation in self._older)

    def __bool__(self) -> bool:
        return bool(self.young) or any(generation for _, generation in self._older)

    def values(self) -> Iterator[V]:
        yield from self.young.values()
        for _, generation in self._older:
            yield from generation.values()
