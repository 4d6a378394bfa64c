"""Live debugging, the half that runs where the components run (worker processes).

Theory of operation. The supervisor switches a tap on when someone opens
`/api/v0/web/debug/<component id>` and off when the last viewer leaves, with a control command
`{"cmd": "livedebug", "component": id, "sampleProb": p, "socket": path}` (p = 0: off). A tap is an
attribute of the component's output fan-outs (`Fanout.tap`, `collector/components/kit/fanout.py`);
while nobody watches it is None and the fan-out pays one attribute check per payload. A worker also
taps the fan-outs behind receivers of other processes (its entry points), so what a receiver emits
is watched where it enters the pipeline.

A switched-on tap samples items (spans, log records, metric data points) with probability p, in a
way that leaves most payloads undecoded when p is small (`Sampler`). Sampled items are rendered as one compact JSON line each, before the
payload moves on (a consumer may change it afterwards), and sent to the supervisor as datagrams on
a Unix socket in the run directory. The socket never blocks: a datagram the supervisor has no room
for is dropped and counted, and the count travels with the next datagram that gets through, so
the viewer learns what it missed while the pipeline never waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import socket
from typing import TYPE_CHECKING, Any, Iterator

import orjson
from google.protobuf.message import Message

from collector.signals import Payload, Signal

if TYPE_CHECKING:
    from collector.components.kit.fanout import Fanout

log = logging.getLogger(__name__)

MAX_DATAGRAM = 60_000  # bytes of rendered lines per datagram (below the default socket buffer)
DROP_REPORT_DELAY = 0.2  # seconds before a drop count is sent on its own (no datagram carried it)
ITEMS_PER_DECODE = 512  # sampled items a decoded payload yields on average when p is small (`Sampler`)
MAX_VALUE_CHARS = 256  # long attribute values are cut: a viewer reads, it does not archive


# --- rendering -----------------------------------------------------------------------------------
def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    raw = getattr(value, kind)
    if kind == "bytes_value":
        return raw.hex()
    if isinstance(raw, str) and len(raw) > MAX_VALUE_CHARS:
        return raw[:MAX_VALUE_CHARS] + "…"
    return raw


def _attributes(attributes: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in attributes}


def _groups(signal: Signal, message: Message) -> Iterator[tuple[Any, Any, Any, Any]]:
    """(resource, scope, repeated items, metric or None) for every run of items, in wire order: the
    caller indexes into a run instead of walking every item (a batch holds thousands; a viewer at
    1 % wants a few of them, and touching each one from Python would cost more than the decode)."""
    spec = signal.spec
    for resource_node in getattr(message, spec.resource_field):
        for scope_node in getattr(resource_node, spec.scope_field):
            if signal is Signal.METRICS:
                for metric in scope_node.metrics:
                    kind = metric.WhichOneof("data")
                    if kind is not None:
                        yield resource_node.resource, scope_node.scope, getattr(metric, kind).data_points, metric
            else:
                yield resource_node.resource, scope_node.scope, getattr(scope_node, spec.item_field), None


def render_item(signal: Signal, resource: Any, scope: Any, item: Any, metric: Any) -> dict[str, Any]:
    """One item as a small JSON object: what an operator looks for first, ids in hex."""
    doc: dict[str, Any] = {"signal": signal.value}
    if signal is Signal.TRACES:
        doc.update(name=item.name, traceId=item.trace_id.hex(), spanId=item.span_id.hex(),
                   kind=item.kind, durationMs=round((item.end_time_unix_nano - item.start_time_unix_nano) / 1e6, 3),
                   status=item.status.code)
        if item.parent_span_id:
            doc["parentSpanId"] = item.parent_span_id.hex()
    elif signal is Signal.LOGS:
        doc.update(time=item.time_unix_nano or item.observed_time_unix_nano, severity=item.severity_text
                   or item.severity_number, body=_value(item.body))
        if item.trace_id:
            doc["traceId"] = item.trace_id.hex()
    else:
        kind = metric.WhichOneof("data")
        doc.update(metric=metric.name, type=kind, time=item.time_unix_nano)
        if kind in ("gauge", "sum"):
            which = item.WhichOneof("value")
            doc["value"] = getattr(item, which) if which else None
        else:
            doc.update(count=item.count, sum=item.sum if item.HasField("sum") else None)
    doc["attributes"] = _attributes(item.attributes)
    doc["resource"] = _attributes(resource.attributes)
    if scope.name:
        doc["scope"] = scope.name
    return doc


def render_sampled(signal: Signal, message: Message, picks: list[int]) -> list[bytes]:
    """Render the items at the given (ascending) indexes."""
    lines: list[bytes] = []
    pick = 0
    base = 0  # index of the run's first item
    for resource, scope, items, metric in _groups(signal, message):
        end = base + len(items)
        while pick < len(picks) and picks[pick] < end:
            lines.append(orjson.dumps(render_item(signal, resource, scope, items[picks[pick] - base], metric)))
            pick += 1
        if pick == len(picks):
            break
        base = end
    return lines


# --- sampling ------------------------------------------------------------------------------------
class Sampler:
    """Picks each item with probability p while decoding as few payloads as it can.

    Decoding is the cost: a batch of thousands of items takes about a microsecond per item to
    decode, whatever the number of items then rendered. So the choice is made in two steps: a
    payload of n items is decoded with probability g = p / w, and within it each item is picked with
    probability w = max(p, min(1, ITEMS_PER_DECODE / n)). Every item is still picked with
    probability g * w = p, but at p = 0.01 a batch of 8192 spans is decoded about one time in six
    (and yields about 512 items) instead of every time (yielding 82). Small payloads are taken whole
    or not at all, as Alloy samples.
    """

    __slots__ = ("probability", "_random")

    def __init__(self, probability: float, rng: random.Random | None = None) -> None:
        self.probability = min(max(probability, 0.0), 1.0)
        self._random = rng or random.Random()

    def picks(self, count: int) -> list[int]:
        """Indexes of the sampled items among a payload's `count` (mostly none)."""
        p = self.probability
        if p >= 1.0:
            return list(range(count))
        if p <= 0.0 or count <= 0:
            return []
        within = max(p, min(1.0, ITEMS_PER_DECODE / count))
        if within > p and self._random.random() >= p / within:
            return []
        if within >= 1.0:
            return list(range(count))
        chosen = []
        log_miss = math.log(1.0 - within)
        index = int(math.log(1.0 - self._random.random()) / log_miss)  # geometric skips: one draw per pick
        while index < count:
            chosen.append(index)
            index += 1 + int(math.log(1.0 - self._random.random()) / log_miss)
        return chosen


# --- sending -------------------------------------------------------------------------------------
class DebugSender:
    """Datagrams of rendered lines to the supervisor; never blocks, counts what it could not send."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.dropped: dict[str, int] = {}  # component -> items not delivered since the last datagram
        self._pending: dict[str, list[bytes]] = {}
        self._flush_scheduled = False
        self._connected = False
        self._report_scheduled = False

    def add(self, component_id: str, lines: list[bytes]) -> None:
        self._pending.setdefault(component_id, []).extend(lines)
        if not self._flush_scheduled:  # one datagram per component and event-loop turn, not per payload
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, {}
        for component_id, lines in pending.items():
            chunk: list[bytes] = []
            size = 0
            for line in lines:
                if chunk and size + len(line) > MAX_DATAGRAM:
                    self._send(component_id, chunk)
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line) + 1
            if chunk:
                self._send(component_id, chunk)

    def _send(self, component_id: str, lines: list[bytes]) -> bool:
        dropped = self.dropped.get(component_id, 0)
        header = orjson.dumps({"component": component_id, "dropped": dropped})
        try:
            if not self._connected:
                self.sock.connect(self.path)
                self._connected = True
            self.sock.send(b"\n".join([header, *lines]))
        except OSError:  # the supervisor's buffer is full (EAGAIN), or it is gone
            self.dropped[component_id] = dropped + len(lines)
            if not self._report_scheduled:
                self._report_scheduled = True
                asyncio.get_running_loop().call_later(DROP_REPORT_DELAY, self._report_drops)
            return False
        self.dropped[component_id] = 0
        return True

    def _report_drops(self) -> None:
        """Tell the viewers what was lost even if no further item comes to carry the count."""
        self._report_scheduled = False
        for component_id, dropped in list(self.dropped.items()):
            if dropped and not self._send(component_id, []):
                return  # still full: `_send` scheduled the next attempt

    def close(self) -> None:
        self.sock.close()


class Tap:
    """Switched-on live debugging of one component in this process (`Fanout.tap`)."""

    __slots__ = ("component_id", "sampler", "sender")

    def __init__(self, component_id: str, probability: float, sender: DebugSender) -> None:
        self.component_id = component_id
        self.sampler = Sampler(probability)
        self.sender = sender

    def __call__(self, payload: Payload) -> None:
        try:
            picks = self.sampler.picks(payload.item_count)
            if not picks:
                return
            # decode a private copy: the payload's own state (bytes only, or a message a consumer
            # will change) stays exactly as it would be without a viewer
            message = payload.message if payload.is_decoded else _decode(payload)
            self.sender.add(self.component_id, render_sampled(payload.signal, message, picks))
        except Exception:  # a viewer must never break the pipeline
            log.exception("live debugging of %s failed on a payload", self.component_id)


def _decode(payload: Payload) -> Message:
    message = payload.signal.spec.request_class()
    message.ParseFromString(payload.data)
    return message


class LiveDebugTaps:
    """The taps a process has switched on, re-applied to the fan-outs after every reload."""

    def __init__(self) -> None:
        self.taps: dict[str, Tap] = {}
        self.sender: DebugSender | None = None

    def command(self, command: dict[str, Any]) -> None:
        """Apply a `livedebug` control command."""
        component_id = str(command["component"])
        probability = float(command.get("sampleProb", 0.0))
        if probability <= 0.0:
            self.taps.pop(component_id, None)
            return
        path = str(command["socket"])
        if self.sender is None or self.sender.path != path:
            if self.sender is not None:
                self.sender.close()
            self.sender = DebugSender(path)
        self.taps[component_id] = Tap(component_id, probability, self.sender)

    def attach(self, fanouts: Iterator[Fanout]) -> None:
        """Point every fan-out at its owner's tap, or at nothing."""
        for fanout in fanouts:
            fanout.tap = self.taps.get(fanout.component_id)
