"""Seed the fuzz corpus from the test suite's inputs: `python -m fuzz.seed`.

OTLP requests come from the transport tests' payloads and the OTLP/JSON files of the protocol
tests (each signal, several compressions), configurations from tests/configs and examples/,
expressions from the right-hand sides of their attributes, OTTL statements from the string
literals of the OTTL and transform/filter tests, Prometheus text from the exposition of a
registry holding every metric type. Files are named by their SHA-1, as libFuzzer names its own,
so seeding twice adds nothing.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import re
import zlib
from pathlib import Path
from typing import Iterable, Iterator

import orjson
import snappy
import zstandard

from collector.protocols.otlp_json import json_to_message
from collector.signals import Signal

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"
MAX_SEED = 4096
_SIGNAL_BYTE = {signal: bytes((i,)) for i, signal in enumerate(Signal)}
_ENCODING_BYTE = {"": 0, "gzip": 1, "deflate": 2, "zlib": 3, "zstd": 4, "snappy": 5, "x-snappy-framed": 6}


def _write(target: str, inputs: Iterable[bytes]) -> int:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for data in inputs:
        if len(data) > MAX_SEED:
            continue
        path = folder / hashlib.sha1(data).hexdigest()
        if not path.exists():
            path.write_bytes(data)
            count += 1
    return count


def _otlp_requests() -> Iterator[tuple[Signal, bytes, bytes]]:
    """(signal, protobuf, OTLP/JSON) from the tests' data."""
    from tests.transport import payloads

    for param in payloads.EXPORTS:
        signal, request, _items = param.values
        yield signal, request.SerializeToString(), b""
    for name, signal in (("trace.json", Signal.TRACES), ("metrics.json", Signal.METRICS), ("logs.json", Signal.LOGS)):
        text = (ROOT / "tests" / "protocols" / "data" / name).read_bytes()
        message = json_to_message(text, signal.spec.request_class())
        yield signal, message.SerializeToString(), text
        yield signal, b"", orjson.dumps(orjson.loads(text))  # compact JSON too


def _compressed(body: bytes) -> Iterator[tuple[str, bytes]]:
    yield "", body
    yield "gzip", gzip.compress(body)
    yield "deflate", zlib.compress(body)
    yield "zlib", zlib.compress(body)[2:-4]  # raw deflate, as some browsers send it
    yield "zstd", zstandard.ZstdCompressor().compress(body)
    yield "snappy", snappy.compress(body)
    yield "x-snappy-framed", snappy.StreamCompressor().add_chunk(body)


def _configs() -> list[Path]:
    return sorted([*ROOT.glob("tests/configs/**/*.alloy"), *ROOT.glob("examples/**/*.alloy")])


_ATTRIBUTE = re.compile(rb"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*(.+?)\s*$", re.M)


def _python_strings(paths: Iterable[Path]) -> Iterator[str]:
    for path in paths:
        try:
            tree = ast.parse(path.read_text())
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield node.value


def _ottl_statements() -> Iterator[str]:
    files = [*ROOT.glob("tests/ottl/*.py"), *ROOT.glob("tests/components/otelcol/processor/transform/*.py"),
             *ROOT.glob("tests/components/otelcol/processor/filter/*.py")]
    for text in _python_strings(files):
        if "(" in text and ")" in text and "\n" not in text and len(text) < 400:
            yield text


def _prometheus_text() -> Iterator[bytes]:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest

    registry = CollectorRegistry()
    Counter("requests", "Requests.", ["code", "path"], registry=registry).labels("200", '/a"b\\c\n').inc(3)
    Gauge("temperature_celsius", "Temperature.", registry=registry).set(-1.5e-3)
    Histogram("latency_seconds", "Latency.", registry=registry).observe(0.2)
    Summary("size_bytes", "Sizes.", registry=registry).observe(1024)
    yield generate_latest(registry)
    yield b'# HELP x Help with \\\\ and \\n.\n# TYPE x untyped\nx{a="1",b="2",} NaN 1700000000000\nx +Inf\nx -Inf\n'
    yield b"up 1\n# comment\n\nmetric_without_timestamp_and_labels 12.47\n"


def main() -> None:
    requests = list(_otlp_requests())
    counts = {
        "otlp_protobuf": _write("otlp_protobuf", (_SIGNAL_BYTE[s] + pb for s, pb, _ in requests if pb)),
        "otlp_json": _write("otlp_json", (_SIGNAL_BYTE[s] + js for s, _, js in requests if js)),
        "http_body": _write("http_body", (
            bytes((_ENCODING_BYTE[encoding] | (0x80 if is_json else 0),)) + body
            for _, pb, js in requests for is_json, plain in ((False, pb), (True, js)) if plain
            for encoding, body in _compressed(plain))),
        "decompression": _write("decompression", (
            bytes((_ENCODING_BYTE[encoding],)) + body for _, pb, _ in requests if pb for encoding, body in _compressed(pb))),
        "alloy_syntax": _write("alloy_syntax", (p.read_bytes() for p in _configs())),
        "alloy_load": _write("alloy_load", (p.read_bytes() for p in _configs())),
        "alloy_expression": _write("alloy_expression", (
            m.group(1) for p in _configs() for m in _ATTRIBUTE.finditer(p.read_bytes()))),
        "ottl": _write("ottl", (bytes((i,)) + text.encode() for text in _ottl_statements() for i in (0, 2, 3, 6, 0x81))),
        "prometheus_text": _write("prometheus_text", _prometheus_text()),
    }
    for target, count in counts.items():
        print(f"{target}: {count} new seeds")


if __name__ == "__main__":
    main()
