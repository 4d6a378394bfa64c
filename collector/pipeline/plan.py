"""What each process instantiates, read off the data-flow edges of a `Pipeline`.

Receiver processes run the RECEIVER-placed components. The worker of signal S runs every
WORKER-placed component that data of S can reach: from the receivers' S outputs and from worker
sources that emit S without accepting anything (`prometheus.scrape`). Connectors change the signal
on the way (`otelcol.connector.host_info` turns traces into metrics), and the components behind
them still run in the worker where the data entered, so a payload never has to cross processes
after the ring.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from collector.components.kit.api import Placement
from collector.pipeline.model import Edge, Pipeline
from collector.signals import Signal


def receiver_components(p: Pipeline) -> list[str]:
    return [i for i in p.order if p.nodes[i].info.placement is Placement.RECEIVER]


# --- ring codes -----------------------------------------------------------------------------------
# A ring record names the receiver that accepted it by a 16-bit code, and the worker routes the record
# through that receiver's `output` block. The code is a pure function of the receiver's ID rather than
# an index in the configuration: every process evaluates the same file and agrees on it without a
# handshake, and a receiver that a reload keeps keeps its code, so records written before the reload
# still reach the right pipeline. A hash can collide, which would route one receiver's data into
# another's pipeline; so a collision is a configuration error (the loader reports it naming both
# components), and so is, at a reload, a new receiver taking the code of a receiver of the running
# configuration that is gone (its records may still be in the rings).


class ReceiverCodeCollision(ValueError):
    def __init__(self, first: str, second: str, code: int, *, running: bool = False) -> None:
        where = " of the running configuration" if running else ""
        super().__init__(f"{second} and {first}{where} hash to the same ring code {code}; "
                         f"rename one of them (their data could not be told apart)")
        self.first, self.second, self.code = first, second, code


@lru_cache(maxsize=1024)
def ring_code(receiver_id: str) -> int:
    """The 16-bit code of a receiver in ring record headers."""
    return zlib.crc32(receiver_id.encode()) & 0xFFFF


def code_collisions(receiver_ids: list[str]) -> list[tuple[str, str, int]]:
    """(first, second, code) for every receiver whose code an earlier one already has."""
    seen: dict[int, str] = {}
    found = []
    for rid in receiver_ids:
        code = ring_code(rid)
        if code in seen:
            found.append((seen[code], rid, code))
        else:
            seen[code] = rid
    return found


def receiver_codes(p: Pipeline, running: Pipeline | None = None) -> Mapping[str, int]:
    """receiver ID -> ring code; raises `ReceiverCodeCollision` if the codes are ambiguous, within
    `p` or against the receivers of the `running` configuration that `p` would replace."""
    ids = receiver_components(p)
    for first, second, code in code_collisions(ids):
        raise ReceiverCodeCollision(first, second, code)
    codes = {rid: ring_code(rid) for rid in ids}
    if running is not None:
        owners = {code: rid for rid, code in codes.items()}
        for old in receiver_components(running):
            rid = owners.get(ring_code(old))
            if rid is not None and rid != old:
                raise ReceiverCodeCollision(old, rid, ring_code(old), running=True)
    return codes


def supervisor_components(p: Pipeline) -> list[str]:
    return [i for i in p.order if p.nodes[i].info.placement is Placement.SUPERVISOR]


def _source_components(p: Pipeline, signal: Signal) -> list[str]:
    return [
        i
        for i in p.order
        if p.nodes[i].info.placement is Placement.WORKER
        and signal in p.nodes[i].info.emits
        and not p.nodes[i].info.accepts
    ]


def _next_hops(p: Pipeline, node_id: str, signal: Signal) -> Iterator[tuple[Edge, Signal]]:
    """Edges that data of `signal`, having arrived at `node_id`, continues along. A component that
    accepts `signal` but does not emit it (a connector) converts it to what it emits."""
    info = p.nodes[node_id].info
    converts = signal in info.accepts and signal not in info.emits
    for edge in p.edges_from(node_id):
        if edge.signal is None:
            continue
        if edge.signal is signal or (converts and edge.signal in info.emits):
            yield edge, edge.signal


def _entry_points(p: Pipeline, signal: Signal) -> list[tuple[str, Signal, bool]]:
    """(component, signal, is_receiver): where data of `signal` starts."""
    starts = [(r, signal, True) for r in receiver_components(p)]
    starts += [(s, signal, False) for s in _source_components(p, signal)]
    return starts


def worker_components(p: Pipeline, signal: Signal) -> list[str]:
    """WORKER-placed components the `signal` worker runs, in topological order."""
    reached: set[str] = set()
    seen: set[tuple[str, Signal]] = set()
    todo: list[tuple[str, Signal]] = []
    for node_id, sig, is_receiver in _entry_points(p, signal):
        if is_receiver:
            todo.extend((e.target, s) for e, s in _next_hops(p, node_id, sig))
        else:
            todo.append((node_id, sig))
    while todo:
        state = todo.pop()
        if state in seen:
            continue
        seen.add(state)
        node_id, sig = state
        reached.add(node_id)
        todo.extend((e.target, s) for e, s in _next_hops(p, node_id, sig))
    return [i for i in p.order if i in reached and p.nodes[i].info.placement is Placement.WORKER]


MAX_PATHS = 1000  # per signal: fan-out and fan-in can multiply paths exponentially


def signal_paths(p: Pipeline, limit: int = MAX_PATHS) -> dict[Signal, list[list[str]]]:
    """Every path from a receiver or source to a terminal component, per entry signal, up to
    `limit` per signal. A step where the signal changes is written `(metrics) <component id>`."""
    result: dict[Signal, list[list[str]]] = {}
    for signal in Signal:
        paths: list[list[str]] = []
        for node_id, sig, is_receiver in _entry_points(p, signal):
            hops = list(_next_hops(p, node_id, sig))
            if is_receiver and not hops:
                continue
            _walk(p, node_id, sig, paths, limit)
            if len(paths) >= limit:
                break
        if paths:
            result[signal] = paths
    return result


_Trail = tuple[Any, str] | None  # (previous trail, step): paths share their prefixes


def _steps(trail: _Trail) -> list[str]:
    out = []
    while trail is not None:
        trail, step = trail
        out.append(step)
    out.reverse()
    return out


def _walk(p: Pipeline, start: str, signal: Signal, out: list[list[str]], limit: int) -> None:
    """Depth-first, iteratively (a 10,000-component chain is 10,000 deep), in edge order."""
    todo: list[tuple[str, Signal, _Trail, int]] = [(start, signal, (None, start), 1)]
    while todo and len(out) < limit:
        node_id, sig, trail, depth = todo.pop()
        hops = list(_next_hops(p, node_id, sig))
        if not hops or depth > len(p.nodes):  # the depth test is defensive: loaded graphs are acyclic
            out.append(_steps(trail))
            continue
        for edge, next_sig in reversed(hops):
            step = edge.target if next_sig is sig else f"({next_sig.value}) {edge.target}"
            todo.append((edge.target, next_sig, (trail, step), depth + 1))
