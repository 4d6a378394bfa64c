"""Configuration files meant to hurt the collector (issue 12's probe): each gets a located error or
loads, in bounded memory and output, never a traceback or a RecursionError."""

from __future__ import annotations

import os
import random
import tracemalloc
from pathlib import Path

import pytest

from collector.cli import main
from collector.config import gofmt
from collector.config.diag import MAX_RENDERED, DiagnosticError, Sources, render
from collector.config.files import MAX_FILE_BYTES, MAX_TOTAL_BYTES, read_config
from collector.config.parser import MAX_NESTING, parse
from collector.config.scanner import MAX_ERRORS
from collector.pipeline import plan
from collector.pipeline.loader import MAX_COMPONENTS, load_sources

MIB = 1024 * 1024


def _load_error(text: str | bytes, name: str = "main.alloy") -> DiagnosticError:
    source = text.encode() if isinstance(text, str) else text
    with pytest.raises(DiagnosticError) as raised:
        load_sources(Sources({name: source}))
    return raised.value


def _batch(label: str, to: str | None) -> str:
    target = f"\n    traces = [{to}]\n  " if to else " "
    return f'otelcol.processor.batch "{label}" {{\n  output {{{target}}}\n}}\n'


def test_random_bytes_give_a_few_errors_in_bounded_memory() -> None:
    data = random.Random(12).randbytes(1_000_000)
    tracemalloc.start()
    try:
        error = _load_error(data)
        text = render(error.diagnostics, error.sources)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(error.diagnostics) <= MAX_ERRORS + 1
    assert any("too many errors" in d.message for d in error.diagnostics)
    assert len(text) < 100_000  # the probe's validate printed 1 GB
    assert peak < 64 * MIB, peak


def test_a_small_random_file_is_cut_off_after_a_few_errors_too() -> None:
    _, diags = parse(random.Random(3).randbytes(20_000), "x.alloy")
    assert len(diags) == MAX_ERRORS + 1
    assert sum(d.message.startswith("too many errors") for d in diags) == 1


def test_long_source_lines_are_windowed_when_printed() -> None:
    error = _load_error("x = " + "a" * 500_000 + " +\n")
    text = render(error.diagnostics, error.sources)
    assert max(len(line) for line in text.splitlines()) < 400


@pytest.mark.parametrize(("spec", "args", "expected"), [
    ("%2000000000d", [1], "%!(NOVERB)%!(EXTRA int=1)"),  # Go: a crazy long width swallows the rest
    ("%.2000000000f", [1.0], "%!(NOVERB)%!(EXTRA float64=1)"),
    ("%*d", [2_000_000_000, 7], "%!(BADWIDTH)7"),
    ("%.*d", [2_000_000_000, 7], "%!(BADPREC)7"),
    ("%8d|%-3s|", [42, "a"], "      42|a  |"),
])
def test_format_widths_are_capped_like_go(spec: str, args: list[object], expected: str) -> None:
    assert gofmt.sprintf(spec, args) == expected


def test_string_format_with_a_huge_width_in_a_configuration_allocates_nothing() -> None:
    tracemalloc.start()
    try:
        error = _load_error('logging {\n  level = string.format("%2000000000d", 1)\n}\n')
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "%!(NOVERB)" in error.diagnostics[0].message  # not a valid level, located at the call
    assert peak < 64 * MIB


def test_a_10000_component_cycle_is_reported_compactly() -> None:
    n = 10_000
    error = _load_error("".join(_batch(f"b{i}", f"otelcol.processor.batch.b{(i + 1) % n}.input") for i in range(n)))
    cycles = [d for d in error.diagnostics if d.message.startswith("cycle detected")]
    assert len(cycles) == n  # one per member, as Alloy reports it...
    assert all(len(d.message) < 300 for d in cycles)  # ...but not a 10,000-name list each
    assert f"({n} components in the cycle)" in cycles[0].message
    text = render(error.diagnostics, error.sources)
    assert text.count("cycle detected") == MAX_RENDERED
    assert f"and {n - MAX_RENDERED} more diagnostics" in text


def test_a_long_chain_from_a_receiver_loads_and_its_path_is_walked_without_recursion() -> None:
    n = MAX_COMPONENTS - 2
    parts = ['otelcol.receiver.otlp "r" {\n  http {}\n  output {\n    traces = [otelcol.processor.batch.b0.input]\n  }\n}\n']
    parts += [_batch(f"b{i}", f"otelcol.processor.batch.b{i + 1}.input" if i < n - 1 else "otelcol.exporter.debug.d.input")
              for i in range(n)]
    parts.append('otelcol.exporter.debug "d" {}\n')
    pipeline = load_sources(Sources({"main.alloy": "".join(parts).encode()}))
    paths = plan.signal_paths(pipeline)
    assert [len(p) for p in paths[plan.Signal.TRACES]] == [n + 2]
    assert len(plan.worker_components(pipeline, plan.Signal.TRACES)) == n + 1


def test_fan_out_and_in_lists_a_bounded_number_of_paths() -> None:
    layers = 25  # 2**25 paths through the lattice
    parts = ['otelcol.receiver.otlp "r" {\n  http {}\n  output {\n'
             '    traces = [otelcol.processor.batch.l0a.input, otelcol.processor.batch.l0b.input]\n  }\n}\n']
    for i in range(layers):
        to = (f"otelcol.processor.batch.l{i + 1}a.input, otelcol.processor.batch.l{i + 1}b.input"
              if i < layers - 1 else "otelcol.exporter.debug.d.input")
        parts += [_batch(f"l{i}{x}", to) for x in "ab"]
    parts.append('otelcol.exporter.debug "d" {}\n')
    pipeline = load_sources(Sources({"main.alloy": "".join(parts).encode()}))
    assert len(plan.signal_paths(pipeline)[plan.Signal.TRACES]) == plan.MAX_PATHS


def test_more_components_than_the_cap_is_a_located_error() -> None:
    error = _load_error("".join(_batch(f"b{i}", None) for i in range(MAX_COMPONENTS + 5)))
    (diag,) = error.diagnostics
    assert diag.message.startswith(f"too many components: a configuration may declare at most {MAX_COMPONENTS}")
    line, _ = error.sources.line_col("main.alloy", diag.span.start)
    assert line == 3 * MAX_COMPONENTS + 1  # the first component over the cap


@pytest.mark.parametrize("text", [
    "x = " + "[" * 1000 + "]" * 1000 + "\n",
    "x = " + "(" * 1000 + "1" + ")" * 1000 + "\n",
    "x = " + "{a = " * 1000 + "1" + "}" * 1000 + "\n",
    "x = " + "-" * 1000 + "1\n",
    "x = " + "!" * 1000 + "true\n",
    "x = " + "2 ^ " * 1000 + "2\n",
    "x = f" + "(f" * 1000 + ")" * 1001 + "\n",
    "x = a" + "[a" * 1000 + "]" * 1000 + "\n",
    "a {\n" * 1000 + "}\n" * 1000,
])
def test_deep_nesting_is_a_located_error(text: str) -> None:
    error = _load_error(text)
    deep = [d for d in error.diagnostics if d.message.startswith("nesting too deep")]
    assert len(deep) == 1, error.diagnostics
    assert error.sources.position(deep[0].span).startswith("main.alloy:")


def test_nesting_at_the_cap_parses() -> None:
    depth = MAX_NESTING - 1
    _, diags = parse(("x = " + "[" * depth + "]" * depth + "\n").encode(), "x.alloy")
    assert diags == []


def test_a_device_or_fifo_is_not_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(OSError, match="not a regular file"):
        read_config("/dev/zero")
    fifo = tmp_path / "pipe.alloy"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        read_config(fifo)  # opening it would block until a writer came
    assert main(["validate", "/dev/zero"]) == 1
    err = capsys.readouterr().err
    assert "not a regular file" in err and "/dev/zero" in err and "Traceback" not in err


def test_a_file_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.alloy"
    big.write_bytes(b" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(OSError, match="larger than"):
        read_config(big)
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "big.alloy").write_bytes(b" " * (MAX_FILE_BYTES + 1))
    with pytest.raises(OSError, match="larger than"):
        read_config(folder)
    many = tmp_path / "many"
    many.mkdir()
    for i in range(MAX_TOTAL_BYTES // MAX_FILE_BYTES + 1):
        (many / f"part{i}.alloy").write_bytes(b" " * MAX_FILE_BYTES)
    with pytest.raises(OSError, match="configuration directory larger than"):
        read_config(many)


@pytest.mark.parametrize("value", ['"999999999999999999999GiB"', "999999999999999999999999"])
def test_a_byte_size_past_int64_is_a_located_error(value: str) -> None:
    error = _load_error('otelcol.receiver.otlp "x" {\n  http {\n    max_request_body_size = ' + value
                        + "\n  }\n  output {}\n}\n")
    (diag,) = [d for d in error.diagnostics if "invalid byte size" in d.message]
    assert error.sources.position(diag.span) == "main.alloy:3:29"


@pytest.mark.parametrize(("text", "expected"), [
    ("1e400 % 3", "nan"),  # found by fuzzing: Python's fmod raises where Go's math.Mod gives NaN
    ("5.5 % 1e400", "5.5"),
    ("3 ^ 40", "12157665459056928801"),
    ("2 ^ 64", "1.8446744073709552e+19"),  # past 64 bits an integer result is a float
    ("18446744073709551615 * 18446744073709551615", "3.402823669209385e+38"),
])
def test_arithmetic_stays_within_go_number_semantics(text: str, expected: str) -> None:
    from collector.config.evaluator import Evaluator
    from collector.config.parser import parse_expression

    expr, diags = parse_expression(text.encode())
    assert not diags
    assert repr(Evaluator({}).evaluate(expr)) == expected


def test_a_huge_integer_power_is_an_error_not_minutes_of_cpu() -> None:
    error = _load_error("logging {\n  level = 9 ^ 999999999\n}\n")
    assert any("invalid power" in d.message for d in error.diagnostics)


@pytest.mark.parametrize("literal", [r'"\u-0d1"', r'"\x-1"', r'"\U+0010FFFF"', r'"\u_123"'])
def test_malformed_escapes_are_scanner_errors_not_crashes(literal: str) -> None:
    # found by fuzzing: int() accepts signs and underscores, so unquote turned "\u-0d1" into chr(-209)
    error = _load_error(f"logging {{\n  level = {literal}\n}}\n")
    assert any("escape sequence" in d.message for d in error.diagnostics), error.diagnostics
