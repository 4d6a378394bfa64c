"""The consistent-hash ring that maps a routing key to one backend.

Why a ring and not `hash % N`: with a modulus, changing N moves almost every key, so a scale-out of
the second tier would split nearly every in-flight trace across two tail samplers. On a ring each
backend owns the arcs that end at its points; adding or removing one backend only hands its arcs to
its neighbours, so about 1/N of the keys move and all others keep their backend.

The geometry is the OpenTelemetry Collector's loadbalancing exporter's (so a mixed fleet agrees on
where a key lives, given the same endpoint strings): 36,000 positions (360 degrees, two decimals),
100 points per backend at `crc32(endpoint + byte(i)) % 36000` (a position taken by an earlier
backend in sorted order is not taken again), and a key lands on the first point at or after
`crc32(key) % 36000`, wrapping round to the first point.
"""

from __future__ import annotations

import zlib
from typing import Final, Iterable, Sequence

POSITIONS: Final = 36_000
POINTS_PER_BACKEND: Final = 100


def backend_points(endpoint: str, points: int = POINTS_PER_BACKEND) -> list[int]:
    """The ring positions of one backend (the i-th point hashes the endpoint followed by byte i)."""
    name = endpoint.encode()
    return [zlib.crc32(name + bytes((i & 0xFF,))) % POSITIONS for i in range(points)]


class HashRing:
    """Immutable: a change of backends builds a new ring, so a lookup never sees half an update."""

    __slots__ = ("endpoints", "_positions", "_owners", "_table")

    def __init__(self, endpoints: Iterable[str]) -> None:
        self.endpoints: tuple[str, ...] = tuple(sorted(set(endpoints)))
        taken: dict[int, str] = {}
        for endpoint in self.endpoints:
            for position in backend_points(endpoint):
                taken.setdefault(position, endpoint)
        ordered = sorted(taken.items())
        self._positions: list[int] = [position for position, _ in ordered]
        self._owners: list[str] = [owner for _, owner in ordered]
        # every position's owner, precomputed: a lookup is one crc32 and one index, no search
        self._table: list[str] = []
        if ordered:
            index = 0
            for position in range(POSITIONS):
                while index < len(self._positions) and self._positions[index] < position:
                    index += 1
                self._table.append(self._owners[index if index < len(self._owners) else 0])

    def __bool__(self) -> bool:
        return bool(self._positions)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HashRing) and other.endpoints == self.endpoints

    def __hash__(self) -> int:
        return hash(self.endpoints)

    def endpoint_for(self, key: bytes) -> str:
        """The backend that owns `key`. The ring must not be empty."""
        return self._table[zlib.crc32(key) % POSITIONS]

    def share_of(self, endpoint: str) -> float:
        """Fraction of the circle `endpoint` owns (for the docs and tests of the distribution)."""
        owned = 0
        previous = self._positions[-1] - POSITIONS if self._positions else 0
        for position, owner in zip(self._positions, self._owners):
            if owner == endpoint:
                owned += position - previous
            previous = position
        return owned / POSITIONS


def moved_keys(before: HashRing, after: HashRing, keys: Sequence[bytes]) -> int:
    """How many of `keys` change backend between two rings (the disruption of a membership change)."""
    return sum(1 for key in keys if before.endpoint_for(key) != after.endpoint_for(key))
