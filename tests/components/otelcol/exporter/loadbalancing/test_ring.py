"""The consistent-hash ring: an even spread, and a membership change moves only the changed share."""

from __future__ import annotations

import random
from collections import Counter

from collector.components.otelcol.exporter.loadbalancing.ring import POSITIONS, HashRing, backend_points, moved_keys

BACKENDS = ["10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"]


def keys(count: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(16) for _ in range(count)]


def test_every_backend_gets_a_fair_share() -> None:
    ring = HashRing(BACKENDS)
    shares = Counter(ring.endpoint_for(key) for key in keys(20_000))
    assert set(shares) == set(BACKENDS)
    for endpoint in BACKENDS:
        assert 0.20 <= shares[endpoint] / 20_000 <= 0.47
        assert abs(ring.share_of(endpoint) - shares[endpoint] / 20_000) < 0.02  # arcs predict the spread
    assert abs(sum(ring.share_of(e) for e in BACKENDS) - 1.0) < 1e-9


def test_removing_a_backend_moves_only_its_keys() -> None:
    before, after = HashRing(BACKENDS), HashRing(BACKENDS[:2])
    sample = keys(10_000)
    for key in sample:
        if before.endpoint_for(key) != BACKENDS[2]:
            assert after.endpoint_for(key) == before.endpoint_for(key)
    moved = moved_keys(before, after, sample)
    assert moved == sum(1 for key in sample if before.endpoint_for(key) == BACKENDS[2])
    assert moved / len(sample) < 0.47


def test_adding_a_backend_takes_keys_only_for_itself() -> None:
    before, after = HashRing(BACKENDS), HashRing([*BACKENDS, "10.0.0.4:4317"])
    sample = keys(10_000)
    moved = [key for key in sample if before.endpoint_for(key) != after.endpoint_for(key)]
    assert all(after.endpoint_for(key) == "10.0.0.4:4317" for key in moved)
    assert 0.10 <= len(moved) / len(sample) <= 0.40  # about a quarter


def test_the_ring_depends_only_on_the_set_of_backends() -> None:
    sample = keys(1_000)
    a, b = HashRing(BACKENDS), HashRing(list(reversed(BACKENDS)) + [BACKENDS[0]])
    assert a == b and a.endpoints == tuple(sorted(BACKENDS))
    assert [a.endpoint_for(k) for k in sample] == [b.endpoint_for(k) for k in sample]


def test_points_are_positions_on_the_circle() -> None:
    points = backend_points("backend:4317")
    assert len(points) == 100 and all(0 <= p < POSITIONS for p in points)
    assert len(set(points)) > 90  # distinct virtual nodes


def test_an_empty_ring_is_false() -> None:
    assert not HashRing([])
    assert HashRing(["a:1"])
