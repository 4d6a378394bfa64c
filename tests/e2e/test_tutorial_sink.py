"""The remote-write sink the tutorial tests rely on: it must record what is valid and flag what a
Prometheus server would reject, or the end-to-end assertions on it would prove nothing."""

from __future__ import annotations

from typing import Iterator

import pytest
import snappy

from collector.protocols.prometheus import prompb
from collector.testing.http import post_status
from collector.testing.remote_write_sink import RemoteWriteSinkThread

HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
           "X-Prometheus-Remote-Write-Version": "0.1.0"}


def _raw(*series: tuple[list[tuple[str, str]], list[tuple[float, int]]]) -> bytes:
    request = prompb.WriteRequest()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name, text in labels:
            ts.labels.add(name=name, value=text)
        for value, timestamp in samples:
            ts.samples.add(value=value, timestamp=timestamp)
    return bytes(request.SerializeToString())


def _body(*series: tuple[list[tuple[str, str]], list[tuple[float, int]]]) -> bytes:
    return bytes(snappy.compress(_raw(*series)))


def _post(url: str, body: bytes, headers: dict[str, str] = HEADERS) -> int:
    return post_status(url, body, headers, timeout=10)


@pytest.fixture
def sink() -> Iterator[RemoteWriteSinkThread]:
    with RemoteWriteSinkThread() as thread:
        yield thread


UP = [("__name__", "up"), ("job", "a")]


def test_valid_request_is_recorded(sink: RemoteWriteSinkThread) -> None:
    assert _post(sink.url, _body((UP, [(1.0, 1000), (0.0, 2000)]))) == 204
    assert [(s.label_map, s.value, s.timestamp_ms) for s in sink.sink.samples("up", job="a")] == [
        ({"__name__": "up", "job": "a"}, 1.0, 1000), ({"__name__": "up", "job": "a"}, 0.0, 2000)]
    assert sink.sink.samples("up", job="b") == []
    assert list(sink.sink.series("up")) == [tuple(UP)]
    assert sink.sink.errors == []


@pytest.mark.parametrize(("labels", "error"), [
    ([("job", "a"), ("__name__", "up")], "labels not sorted by name: ['job', '__name__']"),
    ([("__name__", "up"), ("job", "a"), ("job", "b")], "duplicate label names: ['__name__', 'job', 'job']"),
    ([("job", "a")], "series without __name__: (('job', 'a'),)"),
    ([("__name__", "up"), ("job", "")], "labels with empty values: ['job']"),
])
def test_invalid_label_sets_are_refused(sink: RemoteWriteSinkThread, labels: list[tuple[str, str]],
                                        error: str) -> None:
    assert _post(sink.url, _body((labels, [(1.0, 1000)]))) == 400
    assert sink.sink.errors == [error]
    assert sink.sink.samples() == []


def test_out_of_order_and_conflicting_duplicates_are_refused(sink: RemoteWriteSinkThread) -> None:
    assert _post(sink.url, _body((UP, [(1.0, 2000)]))) == 204
    assert _post(sink.url, _body((UP, [(1.0, 2000)]))) == 204  # an identical resend is accepted
    assert _post(sink.url, _body((UP, [(1.0, 1000)]))) == 400
    assert _post(sink.url, _body((UP, [(5.0, 2000)]))) == 400
    assert sink.sink.errors == [
        "out of order sample: 1000 after 2000 in {'__name__': 'up', 'job': 'a'}",
        "duplicate sample for timestamp 2000: 5.0 after 1.0 in {'__name__': 'up', 'job': 'a'}",
    ]
    assert [s.timestamp_ms for s in sink.sink.samples("up")] == [2000, 2000]


def test_missing_headers_and_framed_snappy_are_refused(sink: RemoteWriteSinkThread) -> None:
    assert _post(sink.url, _body((UP, [(1.0, 1000)])), headers={"Content-Type": "application/x-protobuf"}) == 400
    framed = snappy.StreamCompressor().compress(_raw((UP, [(1.0, 1000)])))
    assert _post(sink.url, framed) == 400
    assert sink.sink.errors[:2] == ["header Content-Encoding: expected 'snappy', got None",
                                   "header X-Prometheus-Remote-Write-Version: expected '0.1.0', got None"]
    assert sink.sink.errors[2].startswith("undecodable body")
    assert sink.sink.requests == 2
    assert sink.sink.samples() == []
