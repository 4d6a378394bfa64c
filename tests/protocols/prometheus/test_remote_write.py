from __future__ import annotations

import struct

import snappy

from collector.protocols.prometheus import prompb
from collector.protocols.prometheus.remote_write import WriteRequestEncoder, compress, request_headers
from collector.protocols.prometheus.series import STALE_NAN, Exemplar, Metadata, MetricType, Series


def decoded(body: bytes) -> list[tuple[list[tuple[str, str]], list[tuple[float, int]]]]:
    req = prompb.decode(body)
    return [([(l.name, l.value) for l in ts.labels], [(s.value, s.timestamp) for s in ts.samples])
            for ts in req.timeseries]


def test_encode_matches_upb_decoding_for_all_timestamp_sizes() -> None:
    a = Series({"__name__": "up", "job": "x", "Zone": "eu"})
    b = Series({"__name__": "m", "empty": "", "é": "ü"})
    enc = WriteRequestEncoder()
    ts = [1_700_000_000_000, 5, 1 << 45, 1_700_000_000_001]
    body = enc.encode([a.encoded, b.encoded, a.encoded, b.encoded], [1.0, -2.5, 3.0, 1e300], ts)
    assert decoded(body) == [
        ([("Zone", "eu"), ("__name__", "up"), ("job", "x")], [(1.0, ts[0])]),
        ([("__name__", "m"), ("é", "ü")], [(-2.5, 5)]),
        ([("Zone", "eu"), ("__name__", "up"), ("job", "x")], [(3.0, 1 << 45)]),
        ([("__name__", "m"), ("é", "ü")], [(1e300, ts[3])]),
    ]
    # the second encode uses the cached heads and must give the same bytes
    assert enc.encode([a.encoded, b.encoded, a.encoded, b.encoded], [1.0, -2.5, 3.0, 1e300], ts) == body


def test_stale_nan_bits_on_the_wire() -> None:
    s = Series({"__name__": "up"})
    body = WriteRequestEncoder().encode([s.encoded], [STALE_NAN], [1_700_000_000_000])
    assert bytes.fromhex("09020000000000f07f") in body
    value = prompb.decode(body).timeseries[0].samples[0].value
    assert struct.pack("<d", value) == bytes.fromhex("020000000000f07f")


def test_exemplars_and_metadata() -> None:
    s = Series({"__name__": "c_total"})
    ex = Exemplar(1, (("trace_id", "ab"),), 0.5, 1_700_000_000_500)
    meta = Metadata("c_total", MetricType.COUNTER, "requests", "1")
    body = WriteRequestEncoder().encode([s.encoded, s.encoded], [1.0, 2.0], [1_700_000_000_000, 1_700_000_001_000],
                                        [ex], [meta])
    req = prompb.decode(body)
    assert len(req.timeseries[0].exemplars) == 0
    got = req.timeseries[1].exemplars[0]
    assert [(l.name, l.value) for l in got.labels] == [("trace_id", "ab")]
    assert (got.value, got.timestamp) == (0.5, 1_700_000_000_500)
    assert req.timeseries[1].samples[0].value == 2.0
    md = req.metadata[0]
    assert (md.type, md.metric_family_name, md.help, md.unit) == (1, "c_total", "requests", "1")


def test_snappy_block_format_roundtrip() -> None:
    raw = b"x" * 1000
    packed = compress(raw)
    assert not packed.startswith(b"\xff\x06\x00\x00sNaPpY")
    assert snappy.uncompress(packed) == raw


def test_headers_cannot_be_overridden() -> None:
    headers = request_headers("collector/0.1", {"content-type": "text/plain", "X-Scope-OrgID": "t1"})
    assert headers == {
        "X-Scope-OrgID": "t1",
        "Content-Encoding": "snappy",
        "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
        "User-Agent": "collector/0.1",
    }


def test_encode_heads_matches_encode_including_slow_path_samples() -> None:
    from collector.protocols.prometheus.remote_write import labels_of_head, timeseries_head

    long = Series({"__name__": "long", "v": "x" * 300})  # a head whose length varint takes 3 bytes
    short = Series({"__name__": "up"})
    labels = [long.encoded, short.encoded, long.encoded, short.encoded]
    values = [1.0, 2.0, 3.0, STALE_NAN]
    timestamps = [1_700_000_000_000, 7, 1_700_000_000_001, 1_700_000_000_001]  # 7: a 1-byte varint
    exemplars = [Exemplar(2, (("trace_id", "ab"),), 0.5, 1_700_000_000_001)]
    heads = [timeseries_head(lb) for lb in labels]
    assert [labels_of_head(h) for h in heads] == labels
    expected = WriteRequestEncoder().encode(labels, values, timestamps, exemplars)
    assert WriteRequestEncoder().encode_heads(heads, values, timestamps, exemplars) == expected
    assert [samples for _, samples in decoded(expected)][:3] == [[(1.0, 1_700_000_000_000)], [(2.0, 7)],
                                                                  [(3.0, 1_700_000_000_001)]]
    assert prompb.decode(expected).timeseries[2].exemplars[0].value == 0.5
