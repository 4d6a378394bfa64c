"""Batching without I/O: cutting one Export request into bounded parts, and the batch processor's
buffering rules (`Batcher`), with the clock passed in.

Cost model. Merging is `Payload.merge` (byte concatenation: traces and logs are never decoded just to
be batched). Cutting decodes the request once (upb) and copies whole resources, whole scopes and
whole metrics with one `CopyFrom` each; only the node that straddles a part boundary is rebuilt, as
an empty "shell" (its descriptors: resource, scope, metric name/unit/temporality, ...) plus a slice
of its items copied in C by `extend`. So Python work grows with the number of nodes and cuts, never
with the number of items, and a request that already fits is returned untouched.

Ownership. Parts of one payload share its ack tokens: each token is retained once per extra part,
so every part is settled on its own and the ring record is freed after the last one.
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Final, Literal

from google.protobuf.message import Message

from collector.signals.payload import Payload
from collector.signals.signal import Signal, SignalSpec

Trigger = Literal["size", "timeout", "shutdown"]
_UNLIMITED: Final = sys.maxsize


# --- cutting ------------------------------------------------------------------------------------
def _copy_fields_except(dst: Message, src: Message, skip: str) -> None:
    """Copy every set field of `src` but `skip` (the child list) into the empty `dst`."""
    for fd, value in src.ListFields():
        name = fd.name
        if name == skip:
            continue
        if fd.is_repeated:
            getattr(dst, name).extend(value)
        elif fd.message_type is not None:
            getattr(dst, name).CopyFrom(value)
        else:
            setattr(dst, name, value)


class _Tree:
    """How to walk one signal's Export request: the child list of a node at each depth.

    Depth 0 is a resource, 1 a scope, 2 an item (traces, logs) or a metric whose data points are
    the items (depth 3). `leaf_parent` is the depth whose children are the counted items.
    """

    def __init__(self, spec: SignalSpec) -> None:
        self.spec = spec
        self.metrics = spec.signal is Signal.METRICS
        self.leaf_parent = 2 if self.metrics else 1

    def children(self, node: Message, depth: int) -> Any:
        if depth == 0:
            return getattr(node, self.spec.scope_field)
        if depth == 1:
            return getattr(node, self.spec.item_field)
        kind = node.WhichOneof("data")
        return getattr(node, kind).data_points if kind is not None else ()

    def count(self, node: Message, depth: int) -> int:
        if depth == self.leaf_parent:
            return len(self.children(node, depth))
        return sum(self.count(child, depth + 1) for child in self.children(node, depth))

    def shell(self, dst: Message, src: Message, depth: int) -> Message:
        """Fill `dst` with `src`'s descriptors and no children; return the node children go into."""
        if depth < 2:
            _copy_fields_except(dst, src, self.spec.scope_field if depth == 0 else self.spec.item_field)
            return dst
        kind = src.WhichOneof("data")
        _copy_fields_except(dst, src, kind or "")
        if kind is not None:
            inner = getattr(dst, kind)
            inner.SetInParent()
            _copy_fields_except(inner, getattr(src, kind), "data_points")
        return dst

    def add_child(self, parent: Message | None, request: Message, depth: int) -> Message:
        """Append an empty node at `depth` under `parent` (or the request for resources)."""
        if depth == 0:
            return getattr(request, self.spec.resource_field).add()
        assert parent is not None, "below the resource level a node always has a parent"
        return self.children(parent, depth - 1).add()


class _Cutter:
    """Walks a request once, filling parts of `first` items, then of `rest` items each."""

    def __init__(self, tree: _Tree, first: int, rest: int) -> None:
        self.tree = tree
        self.rest = rest
        self.parts: list[tuple[Message, int]] = []
        self.src: list[Message] = []  # source ancestors of the node being walked
        self.dst: list[Message] = []  # their shells in the current part (rebuilt lazily after a cut)
        self._open(first)

    def _open(self, budget: int) -> None:
        self.request = self.tree.spec.request_class()
        self.budget = budget
        self.left = budget
        self.dst = []

    def _close(self) -> None:
        self.parts.append((self.request, self.budget - self.left))
        self._open(self.rest)

    def _ensure_shells(self, depth: int) -> None:
        for level in range(len(self.dst), depth):
            parent = self.dst[level - 1] if level else None
            node = self.tree.add_child(parent, self.request, level)
            self.dst.append(self.tree.shell(node, self.src[level], level))

    def walk(self, nodes: Any, depth: int) -> None:
        tree = self.tree
        for node in nodes:
            n = tree.count(node, depth)
            if n and self.left == 0:
                self._close()  # close lazily, so a node that fits a fresh part is copied whole
            if n <= self.left:  # fits whole (nodes without items always ride along)
                self._ensure_shells(depth)
                tree.add_child(self.dst[depth - 1] if depth else None, self.request, depth).CopyFrom(node)
                self.left -= n
                continue
            self.src.append(node)
            if depth == tree.leaf_parent:
                items = tree.children(node, depth)
                start = 0
                while start < n:
                    if self.left == 0:
                        self._close()
                    take = min(self.left, n - start)
                    self._ensure_shells(depth + 1)
                    tree.children(self.dst[depth], depth).extend(items[start:start + take])
                    start += take
                    self.left -= take
            else:
                self.walk(tree.children(node, depth), depth + 1)
            self.src.pop()
            del self.dst[depth:]

    def finish(self) -> list[tuple[Message, int]]:
        if len(getattr(self.request, self.tree.spec.resource_field)):
            self.parts.append((self.request, self.budget - self.left))
        return self.parts


def _parts_to_payloads(payload: Payload, parts: list[tuple[Message, int]]) -> list[Payload]:
    for token in payload.acks:
        token.retain(len(parts) - 1)
    acks = payload.acks
    payload.acks = []
    return [Payload(payload.signal, message=message, item_count=count, acks=acks, metadata=payload.metadata)
            for message, count in parts]


def split(payload: Payload, max_items: int) -> list[Payload]:
    """Cut `payload` into parts of at most `max_items` items (the input itself if it fits)."""
    if max_items <= 0 or payload.item_count <= max_items:
        return [payload]
    cutter = _Cutter(_Tree(payload.signal.spec), max_items, max_items)
    cutter.walk(getattr(payload.message, payload.signal.spec.resource_field), 0)
    return _parts_to_payloads(payload, cutter.finish())


def take(payload: Payload, n: int) -> tuple[Payload, Payload | None]:
    """The first `n` items of `payload` and the rest (None when nothing is left)."""
    if payload.item_count <= n:
        return payload, None
    cutter = _Cutter(_Tree(payload.signal.spec), n, _UNLIMITED)
    cutter.walk(getattr(payload.message, payload.signal.spec.resource_field), 0)
    parts = _parts_to_payloads(payload, cutter.finish())
    return parts[0], parts[1]


# --- the batch processor's rules ----------------------------------------------------------------
class CardinalityLimitError(Exception):
    """A new combination of metadata values arrived while `metadata_cardinality_limit` are in use."""


@dataclass(frozen=True, slots=True)
class Batch:
    payload: Payload
    trigger: Trigger


@dataclass(slots=True)
class _Buffer:
    signal: Signal
    metadata: tuple[tuple[str, str], ...] = ()  # the `metadata_keys` values every batch of it carries
    payloads: deque[Payload] = field(default_factory=deque)
    items: int = 0
    deadline: float | None = None


class Batcher:
    """The batch processor's buffering rules, with the clock injected.

    * one buffer per signal and per combination of `metadata_keys` values; a batch carries those
      values as its client metadata and nothing else (as the OpenTelemetry Collector's batch
      processor: what it sends has only the partitioning keys in its context; without
      `metadata_keys`, no client metadata), so every request an exporter makes from it belongs
      to one combination, e.g. one tenant;
    * `send_batch_size` is a trigger: once a buffer holds that many items it is sent, cut to at most
      `send_batch_max_size` items per batch when that is > 0 (the remainder waits);
    * a buffer is sent at the latest `timeout` after its first item arrived (Go's timer ticks
      `timeout` after the previous send; our deadline keeps the same bound on waiting);
    * `timeout == 0` sends everything immediately, only cut to the max size.
    """

    def __init__(
        self,
        *,
        send_batch_size: int,
        send_batch_max_size: int,
        timeout: float,
        clock: Callable[[], float],
        metadata_keys: tuple[str, ...] = (),
        metadata_cardinality_limit: int = 1000,
    ) -> None:
        self.send_batch_size = send_batch_size
        self.max_size = send_batch_max_size if send_batch_max_size > 0 else _UNLIMITED
        self.timeout = timeout
        self.clock = clock
        self.metadata_keys = tuple(key.lower() for key in metadata_keys)
        self.cardinality_limit = metadata_cardinality_limit
        self._buffers: dict[tuple[Signal, tuple[str, ...]], _Buffer] = {}
        self.buffered_items = 0

    def _key(self, payload: Payload) -> tuple[Signal, tuple[str, ...]]:
        if not self.metadata_keys:
            return payload.signal, ()
        values = []
        for wanted in self.metadata_keys:
            values.append(";".join(v for k, v in payload.metadata if k.lower() == wanted))
        return payload.signal, tuple(values)

    def metadata_cardinality(self, signal: Signal) -> int:
        return sum(1 for key in self._buffers if key[0] is signal)

    def add(self, payload: Payload) -> list[Batch]:
        """Buffer `payload`; return the batches that are ready now. Takes ownership of `payload`."""
        key = self._key(payload)
        buffer = self._buffers.get(key)
        if buffer is None:
            if self.metadata_keys and self.metadata_cardinality(payload.signal) >= self.cardinality_limit:
                raise CardinalityLimitError(
                    f"too many batcher metadata-value combinations (limit {self.cardinality_limit})")
            kept = tuple((k, v) for k in self.metadata_keys for name, v in payload.metadata if name.lower() == k)
            buffer = self._buffers[key] = _Buffer(payload.signal, kept)
        count = payload.item_count
        if count == 0:
            payload.settle()  # nothing to deliver
            return []
        buffer.payloads.append(payload)
        buffer.items += count
        self.buffered_items += count
        now = self.clock()
        if self.timeout <= 0:
            return self._drain(buffer, "size")
        if buffer.deadline is None:
            buffer.deadline = now + self.timeout
        ready: list[Batch] = []
        while buffer.items > 0 and buffer.items >= self.send_batch_size:
            ready.append(Batch(self._cut(buffer), "size"))
        if ready:
            buffer.deadline = now + self.timeout if buffer.items else None
        return ready

    def next_deadline(self) -> float | None:
        deadlines = [b.deadline for b in self._buffers.values() if b.deadline is not None and b.items]
        return min(deadlines) if deadlines else None

    def due(self) -> list[Batch]:
        """Batches whose buffer waited `timeout`."""
        now = self.clock()
        ready: list[Batch] = []
        for buffer in self._buffers.values():
            if buffer.items and buffer.deadline is not None and buffer.deadline <= now:
                ready.extend(self._drain(buffer, "timeout"))
        return ready

    def flush_all(self) -> list[Batch]:
        ready: list[Batch] = []
        for buffer in self._buffers.values():
            ready.extend(self._drain(buffer, "shutdown"))
        return ready

    def _drain(self, buffer: _Buffer, trigger: Trigger) -> list[Batch]:
        ready = []
        while buffer.items:
            ready.append(Batch(self._cut(buffer), trigger))
        buffer.deadline = None
        return ready

    def _cut(self, buffer: _Buffer) -> Payload:
        """Take at most `max_size` items from the front of `buffer` as one merged payload."""
        parts: list[Payload] = []
        n = 0
        queue = buffer.payloads
        while queue and n < self.max_size:
            head = queue[0]
            count = head.item_count
            if n + count <= self.max_size:
                parts.append(queue.popleft())
                n += count
            else:
                first, rest = take(head, self.max_size - n)
                assert rest is not None
                parts.append(first)
                queue[0] = rest
                n = self.max_size
        buffer.items -= n
        self.buffered_items -= n
        merged = Payload.merge(buffer.signal, parts)
        merged.metadata = buffer.metadata
        return merged
