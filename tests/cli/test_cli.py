from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collector import __version__
from collector.cli import LOAD_FAILED, main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OTEL_TRACE_PATHS = [
    "otelcol.receiver.otlp.default -> otelcol.processor.resourcedetection.default -> "
    "otelcol.processor.batch.default -> otelcol.exporter.otlphttp.traces",
    "otelcol.receiver.otlp.default -> otelcol.processor.resourcedetection.default -> "
    "otelcol.connector.host_info.default -> (metrics) otelcol.processor.batch.default -> "
    "otelcol.exporter.prometheus.metrics -> prometheus.remote_write.metrics_service",
]


def test_validate_opentelemetry_example_shows_both_trace_branches(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES / "opentelemetry.alloy")]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "configuration is valid (9 components)" in out
    section = out[out.index("  traces:\n") :].splitlines()
    assert [line.strip() for line in section[1:3]] == OTEL_TRACE_PATHS
    assert "    otelcol.receiver.otlp.default -> otelcol.processor.resourcedetection.default -> " \
           "otelcol.processor.batch.default -> otelcol.exporter.otlphttp.logs" in out


def test_validate_self_monitoring_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES / "self-monitoring.alloy")]) == 0
    out, _ = capsys.readouterr()
    assert "configuration is valid (5 components)" in out
    assert "prometheus.scrape.collector -> prometheus.relabel.collector -> prometheus.remote_write.metrics_service" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"collector v{__version__}"


def test_missing_path_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 1
    assert capsys.readouterr().err == "Error: path argument not provided\n"


def test_unreadable_path_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.alloy"
    assert main(["validate", str(missing)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"Error: No such file or directory: {missing}", LOAD_FAILED]


def test_unexpected_failure_is_one_line_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("collector.pipeline.loader.load", broken)
    assert main(["validate", str(EXAMPLES / "opentelemetry.alloy")]) == 1
    assert capsys.readouterr().err == "Error: RuntimeError: boom\n"


def test_run_passes_flags_to_the_supervisor(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(**kwargs: Any) -> int:
        seen.update(kwargs)
        return 7

    monkeypatch.setattr("collector.runtime.supervisor.run", fake_run)
    code = main(["run", "cfg.alloy", "--server.http.listen-addr", "127.0.0.1:0",
                 "--storage.path", "/data", "--shutdown-timeout", "1m30s"])
    assert code == 7
    assert seen == {"pipeline_path": Path("cfg.alloy"), "http_listen_addr": "127.0.0.1:0",
                    "storage_path": Path("/data"), "shutdown_timeout": 90.0}


def test_run_reports_configuration_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "main.alloy"
    config.write_text('prometheus.exporter.self { }\n')
    assert main(["run", str(config), "--storage.path", str(tmp_path / "data")]) == 1
    err = capsys.readouterr().err
    assert f"Error: {config}:1:1: component \"prometheus.exporter.self\" must have a label" in err
    assert err.rstrip().endswith(LOAD_FAILED)
    assert "Traceback" not in err


def test_run_rejects_a_bad_shutdown_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "cfg.alloy", "--shutdown-timeout", "soon"]) == 1
    assert capsys.readouterr().err == 'Error: --shutdown-timeout: time: invalid duration "soon"\n'


def test_fmt_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "main.alloy"
    config.write_text('prometheus.exporter.self "a" {\n}\ndiscovery.relabel "b" {\ntargets=prometheus.exporter.self.a.targets\n}\n')
    assert main(["fmt", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "\ttargets = prometheus.exporter.self.a.targets\n" in printed
    assert main(["fmt", "--write", str(config)]) == 0
    assert config.read_text() == printed


def test_fmt_reports_syntax_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "main.alloy"
    config.write_text('a = [1\n')
    assert main(["fmt", str(config)]) == 1
    err = capsys.readouterr().err
    assert f"Error: {config}:1:7: missing ',' in expression list" in err
    assert err.rstrip().endswith(LOAD_FAILED)
