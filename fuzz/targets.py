"""Fuzz targets: one function per input parser that a client or a configuration author controls.

Each target takes raw bytes and runs them through the collector's own code. A *clean outcome* is
success or one of the errors that code defines for bad input (the `expected` tuple); anything else
(IndexError, RecursionError, KeyError, a MemoryError from an unbounded allocation...) escapes the
target and is a finding. `fuzz/run.py` drives the targets with atheris; the corpus it grows under
`fuzz/corpus/<target>/` is replayed by `tests/fuzz/test_corpus_replay.py` on every `make test`.

The first byte of an input often selects a variant (signal, encoding, OTTL context), so one corpus
covers all of them and the fuzzer can mutate the choice too.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import Callable, Final

from collector.config.diag import DiagnosticError, Sources
from collector.config.evaluator import EvalError, Evaluator
from collector.config.parser import parse, parse_expression
from collector.ottl.errors import OttlError
from collector.ottl.paths import CONTEXT_NAMES
from collector.ottl.runner import GroupCompileError, compile_conditions, compile_group
from collector.protocols import otlp_compression
from collector.protocols.otlp_http import HttpReply, HttpRoute, OtlpHttpProtocol
from collector.protocols.otlp_limits import RequestLimits, prescan_protobuf
from collector.protocols.otlp_request import DecodedExport, decode_json, decode_protobuf
from collector.protocols.prometheus.textparse import ParseError, parse as parse_exposition
from collector.protocols.status import ExportRejected
from collector.signals import Signal

__all__ = ["TARGETS", "Target"]

_SIGNALS: Final = tuple(Signal)
_LIMIT: Final = 1 << 20  # decompression limit in the fuzz runs: small, so bombs are cheap to find
# Tiny caps, so the pre-scan (which skips bodies too short to exceed the real caps) runs on inputs
# of the sizes a fuzzer generates
_SMALL: Final = RequestLimits(max_resources=3, max_scopes=5, max_items=8, max_json_objects=64)


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], None]
    doc: str


def _signal(data: bytes) -> tuple[Signal, bytes]:
    if not data:
        return Signal.TRACES, b""
    return _SIGNALS[data[0] % len(_SIGNALS)], data[1:]


def otlp_protobuf(data: bytes) -> None:
    """Export requests as gRPC and HTTP deliver them: pre-scan, upb decode, item count; and the
    pre-scan alone under tiny caps (its wire scanner on every level it walks)."""
    signal, body = _signal(data)
    try:
        prescan_protobuf(signal, body, _SMALL)
    except ExportRejected:  # TooMuchWork included
        pass
    try:
        decoded = decode_protobuf(signal, body)
    except ExportRejected:
        return
    assert decoded.item_count >= 0


def otlp_json(data: bytes) -> None:
    """OTLP/JSON bodies: orjson, id rewriting, json_format; with tiny caps too."""
    signal, body = _signal(data)
    for limits in (_SMALL, None):
        try:
            decoded = decode_json(signal, body) if limits is None else decode_json(signal, body, limits)
        except ExportRejected:
            continue
        assert decoded.item_count >= 0


_ENCODINGS: Final = ("", "gzip", "deflate", "zlib", "zstd", "snappy", "x-snappy-framed", "lz4", "br")
_HTTP = OtlpHttpProtocol({"/v1/traces": Signal.TRACES}, _LIMIT)


def http_body(data: bytes) -> None:
    """The whole OTLP/HTTP body path after the headers: decompression under the limit, then the
    protobuf or JSON decoder. It must always answer (a reply or a decoded request), never raise."""
    if not data:
        return
    encoding = _ENCODINGS[data[0] % len(_ENCODINGS)]
    media = "application/json" if data[0] & 0x80 else "application/x-protobuf"
    route = _HTTP.start("POST", "/v1/traces", {"Content-Type": media, "Content-Encoding": encoding})
    if isinstance(route, HttpReply):
        assert route.status == 400 and encoding not in otlp_compression.KNOWN_ENCODINGS
        return
    assert isinstance(route, HttpRoute)
    outcome = _HTTP.decode(route, data[1:])
    assert isinstance(outcome, (HttpReply, DecodedExport))
    if isinstance(outcome, HttpReply):
        assert 400 <= outcome.status < 500, outcome.status


def decompression(data: bytes) -> None:
    """Each decoder on its own, including gzip members wrapped around fuzzed bytes."""
    if not data:
        return
    encoding = _ENCODINGS[data[0] % 7]
    body = data[1:]
    if data[0] & 0x80 and encoding == "gzip":
        body = gzip.compress(body, 1) + body  # a valid member followed by garbage
    try:
        out = otlp_compression.decompress(body, encoding, _LIMIT)
    except (otlp_compression.DecompressError, otlp_compression.TooLarge, otlp_compression.UnsupportedEncoding):
        return
    assert len(out) <= _LIMIT


def alloy_syntax(data: bytes) -> None:
    """The Alloy scanner and parser on a whole file: diagnostics, never an exception."""
    tree, diags = parse(data, "fuzz.alloy")
    assert tree is not None and isinstance(diags, list)


def alloy_load(data: bytes) -> None:
    """Whole-file loading: parse, resolve references, evaluate with the standard library, decode
    component arguments (the `validate` command). Bad configurations are a DiagnosticError."""
    from collector.pipeline.loader import load_sources

    try:
        load_sources(Sources({"fuzz.alloy": data}))
    except DiagnosticError:
        return


def alloy_expression(data: bytes) -> None:
    """One expression evaluated with the standard library (string.format, encoding.from_json,
    array.concat, ...): a value or an EvalError at a position."""
    expr, diags = parse_expression(data, "fuzz.alloy")
    if diags:
        return
    try:
        Evaluator({}).evaluate(expr)
    except EvalError:
        return


def ottl(data: bytes) -> None:
    """OTTL statements and conditions compiled for a context, as the transform and filter
    processors do when a configuration loads."""
    if not data:
        return
    context = CONTEXT_NAMES[data[0] % len(CONTEXT_NAMES)]
    text = data[1:].decode("utf-8", "replace")
    try:
        if data[0] & 0x80:
            compile_conditions(context, [text])
        else:
            compile_group(context, [text])
    except (GroupCompileError, OttlError):
        return


def prometheus_text(data: bytes) -> None:
    """The text exposition parser, on a scrape body decoded as prometheus.scrape decodes it."""
    try:
        exposition = parse_exposition(data.decode("utf-8", "replace"))
    except ParseError:
        return
    assert all(len(sample) == 4 for sample in exposition.samples)


TARGETS: Final[dict[str, Target]] = {t.name: t for t in (
    Target("otlp_protobuf", otlp_protobuf, "OTLP protobuf Export requests (first byte: signal)"),
    Target("otlp_json", otlp_json, "OTLP/JSON Export requests (first byte: signal)"),
    Target("http_body", http_body, "OTLP/HTTP body path: decompression + decode (first byte: encoding, media)"),
    Target("decompression", decompression, "gzip/deflate/zlib/zstd/snappy decoders under a limit"),
    Target("alloy_syntax", alloy_syntax, "Alloy scanner and parser"),
    Target("alloy_load", alloy_load, "Alloy configuration loading (evaluator, stdlib, component arguments)"),
    Target("alloy_expression", alloy_expression, "Alloy expressions evaluated with the standard library"),
    Target("ottl", ottl, "OTTL statements/conditions compiled per context (first byte)"),
    Target("prometheus_text", prometheus_text, "Prometheus text exposition parser"),
)}
