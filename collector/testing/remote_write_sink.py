"""A Prometheus remote-write backend double for end-to-end tests: records every series it is sent.

It checks what a real receiver checks (snappy block body, protobuf WriteRequest, the remote-write
1.0 headers, label names sorted and unique, a `__name__` on every series, and per series no sample
older than one already stored nor a different value for a stored timestamp, which Prometheus's TSDB
rejects) and records a violation instead of crashing, so a test can assert `errors == []` next to the
data it expects. Requests that violate the protocol are answered 400, as Prometheus does, which the
sender must treat as permanent. One rule is stricter than the spec: empty label values are reported,
because Alloy never sends them (its label builder deletes a label set to "").
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import snappy
from aiohttp import web

from collector.protocols.prometheus import prompb
from collector.testing.server_thread import ServerThread

Labels = tuple[tuple[str, str], ...]

PATH = "/api/v1/write"
_REQUIRED_HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


@dataclass(frozen=True)
class Sample:
    labels: Labels
    value: float
    timestamp_ms: int

    @property
    def name(self) -> str:
        return dict(self.labels).get("__name__", "")

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass
class MetadataEntry:
    family: str
    type: int
    help: str
    unit: str


def check_series(labels: Labels) -> str | None:
    """The label-set rules of the remote-write 1.0 spec, or None when the series obeys them."""
    names = [name for name, _ in labels]
    if "__name__" not in names:
        return f"series without __name__: {labels}"
    if names != sorted(names):
        return f"labels not sorted by name: {names}"
    if len(set(names)) != len(names):
        return f"duplicate label names: {names}"
    empty = [name for name, value in labels if value == ""]
    if empty:
        return f"labels with empty values: {empty}"
    return None


def check_order(last: tuple[int, float] | None, timestamp_ms: int, value: float) -> str | None:
    """TSDB append rules for one series, given its newest stored (timestamp, value)."""
    if last is None:
        return None
    last_ts, last_value = last
    if timestamp_ms < last_ts:
        return f"out of order sample: {timestamp_ms} after {last_ts}"
    if timestamp_ms == last_ts and not _same_value(value, last_value):
        return f"duplicate sample for timestamp {timestamp_ms}: {value} after {last_value}"
    return None


def _same_value(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def check_headers(headers: Mapping[str, str]) -> list[str]:
    return [f"header {name}: expected {want!r}, got {headers.get(name)!r}"
            for name, want in _REQUIRED_HEADERS.items() if headers.get(name) != want]


def decode_write_request(body: bytes) -> Any:
    """snappy block format (not framed) around a prometheus.WriteRequest."""
    return prompb.decode(snappy.uncompress(body))


class RemoteWriteSink:
    """Records samples and metadata from every valid request; thread-safe reads for sync tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._samples: list[Sample] = []
        self._metadata: list[MetadataEntry] = []
        self._newest: dict[Labels, tuple[int, float]] = {}
        self.requests = 0
        self.errors: list[str] = []
        self.app = web.Application(client_max_size=256 << 20)
        self.app.add_routes([web.post(PATH, self._handle)])

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        problems = check_headers(request.headers)
        try:
            message = decode_write_request(body)
        except Exception as exc:  # a broken request is a finding for the test, not a sink crash
            problems.append(f"undecodable body: {exc}")
            message = None
        samples: list[Sample] = []
        metadata: list[MetadataEntry] = []
        if message is not None:
            for series in message.timeseries:
                labels = tuple((label.name, label.value) for label in series.labels)
                problem = check_series(labels)
                if problem is not None:
                    problems.append(problem)
                samples.extend(Sample(labels, s.value, s.timestamp) for s in series.samples)
            metadata = [MetadataEntry(m.metric_family_name, m.type, m.help, m.unit) for m in message.metadata]
        with self._lock:
            self.requests += 1
            newest = dict(self._newest)  # a rejected request stores nothing
            for sample in samples:
                problem = check_order(newest.get(sample.labels), sample.timestamp_ms, sample.value)
                if problem is not None:
                    problems.append(f"{problem} in {dict(sample.labels)}")
                else:
                    newest[sample.labels] = (sample.timestamp_ms, sample.value)
            if problems:
                self.errors.extend(problems)
                return web.Response(status=400, text="; ".join(problems))
            self._newest = newest
            self._samples.extend(samples)
            self._metadata.extend(metadata)
        return web.Response(status=204)

    # --- reading what arrived ------------------------------------------------------------------
    def samples(self, name: str | None = None, **labels: str) -> list[Sample]:
        """Samples of metric `name` (any name if None) whose labels include `labels`."""
        with self._lock:
            found = list(self._samples)
        return [s for s in found if (name is None or s.name == name) and _includes(s.labels, labels)]

    def series(self, name: str | None = None, **labels: str) -> dict[Labels, list[Sample]]:
        """Matching samples grouped by their full label set, in arrival order."""
        grouped: dict[Labels, list[Sample]] = {}
        for sample in self.samples(name, **labels):
            grouped.setdefault(sample.labels, []).append(sample)
        return grouped

    def names(self) -> set[str]:
        return {s.name for s in self.samples()}

    def metadata(self) -> list[MetadataEntry]:
        with self._lock:
            return list(self._metadata)


def _includes(labels: Iterable[tuple[str, str]], wanted: Mapping[str, str]) -> bool:
    present = dict(labels)
    return all(present.get(key) == value for key, value in wanted.items())


class RemoteWriteSinkThread(ServerThread):
    """Runs a `RemoteWriteSink` on its own event loop in a thread, for synchronous tests."""

    def __init__(self, sink: RemoteWriteSink | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sink = sink or RemoteWriteSink()
        super().__init__(self.sink.app, host, port, name="remote-write-sink", path=PATH)
