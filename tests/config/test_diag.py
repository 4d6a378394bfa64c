from __future__ import annotations

from pathlib import Path

from collector.config.diag import Diagnostic, DiagnosticError, Sources, Span, render, summarize
from collector.config.files import read_config

SRC = b'loki.source.file "test" {\n\tforward_to = "wrong"\n\ttargets = [10]\n}\n'


def test_line_col_counts_bytes() -> None:
    s = Sources({"m": "é = 1\nab".encode()})
    assert s.line_col("m", 0) == (1, 1)
    assert s.line_col("m", 3) == (1, 4)  # é is two bytes
    assert s.line_col("m", 7) == (2, 1)
    assert s.line_text("m", 2) == "ab"


def test_render_golden() -> None:
    sources = Sources({"main.alloy": SRC})
    start = SRC.index(b'"wrong"')
    d = Diagnostic.error(Span("main.alloy", start, start + len('"wrong"')), "expected array, got string")
    assert render([d], sources) == (
        "Error: main.alloy:2:15: expected array, got string\n"
        "\n"
        '1 | loki.source.file "test" {\n'
        '2 |     forward_to = "wrong"\n'
        "  |                  ^^^^^^^\n"
        "3 |     targets = [10]\n"
    )


def test_render_warning_first_line_and_zero_width() -> None:
    sources = Sources({"m": b"a = 1\n"})
    d = Diagnostic.warning(Span("m", 4, 4), "careful")
    assert render([d], sources) == "Warning: m:1:5: careful\n\n1 | a = 1\n  |     ^\n"


def test_render_multiline_span_draws_margin() -> None:
    sources = Sources({"m": b"x {\n  a = 1\n}\n"})
    out = render([Diagnostic.error(Span("m", 0, 13), "bad block")], sources)
    assert out.splitlines()[2:] == [
        "1 |   x {",
        "  |  ^",
        "2 | |   a = 1",
        "3 | | }",
        "  | |_^",
    ]


def test_summarize_and_error() -> None:
    sources = Sources({"main.alloy": SRC})
    one = Diagnostic.error(Span("main.alloy", 27, 37), "first")
    two = Diagnostic.error(Span("main.alloy", 0, 1), "second")
    assert summarize([one], sources) == "main.alloy:2:2: first"
    assert summarize([one, two, two], sources) == "main.alloy:2:2: first (and 2 more diagnostics)"
    exc = DiagnosticError([one, two], sources)
    assert str(exc) == "main.alloy:2:2: first (and 1 more diagnostics)"
    assert exc.diagnostics == [one, two] and exc.sources is sources


def test_read_config_file_and_directory(tmp_path: Path) -> None:
    (tmp_path / "b.alloy").write_bytes(b"b {}\n")
    (tmp_path / "a.alloy").write_bytes(b"a {}\n")
    (tmp_path / "c.txt").write_bytes(b"ignored")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.alloy").write_bytes(b"nested, ignored")
    sources = read_config(tmp_path)
    assert [Path(name).name for name in sources] == ["a.alloy", "b.alloy"]
    single = read_config(tmp_path / "a.alloy")
    assert list(single.items()) == [(str(tmp_path / "a.alloy"), b"a {}\n")]
