"""The OpenTelemetry Collector YAML front end: mapping, IDs, wiring, env substitution, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.cli import main
from collector.config.diag import DiagnosticError
from collector.otelcolconfig import config_format, convert_yaml, load_yaml_config
from collector.pipeline.loader import load

GATEWAY = """\
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:14317
        max_recv_msg_size_mib: 8
      http:
        endpoint: ${env:HTTP_EP:-127.0.0.1:14318}
processors:
  batch:
  memory_limiter:
    check_interval: 1s
    limit_mib: 512
exporters:
  otlphttp/tempo:
    endpoint: http://127.0.0.1:9999
    headers: {X-Scope: a}
  debug:
service:
  telemetry:
    logs:
      level: DEBUG
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlphttp/tempo, debug]
    logs/x:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
"""


def _write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _pipeline(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    return load_yaml_config(_write(tmp_path, text), http_listen_addr="127.0.0.1:12345", storage_path=tmp_path)


def test_format_by_extension_or_flag() -> None:
    assert config_format("a.yaml") == "otelcol"
    assert config_format("a.YML") == "otelcol"
    assert config_format("a.alloy") == "alloy"
    assert config_format("a.txt", "otelcol") == "otelcol"


def test_gateway_ids_processors_per_pipeline_and_wiring(tmp_path: Path) -> None:
    p = _pipeline(tmp_path, GATEWAY)
    ids = {n.id: n.yaml_id for n in p.nodes.values()}
    assert ids == {
        "otelcol.receiver.otlp.default": "otlp",
        "otelcol.processor.memory_limiter.default_traces": "memory_limiter",
        "otelcol.processor.batch.default_traces": "batch",
        "otelcol.processor.batch.default_logs_x": "batch",
        "otelcol.exporter.otlphttp.tempo": "otlphttp/tempo",
        "otelcol.exporter.debug.default": "debug",
    }
    edges = {(e.source, e.target, e.signal.value if e.signal else None) for e in p.edges}
    assert ("otelcol.receiver.otlp.default", "otelcol.processor.memory_limiter.default_traces", "traces") in edges
    assert ("otelcol.processor.batch.default_traces", "otelcol.exporter.otlphttp.tempo", "traces") in edges
    assert ("otelcol.processor.batch.default_logs_x", "otelcol.exporter.debug.default", "logs") in edges
    assert p.logging.level == "debug"
    receiver = p.nodes["otelcol.receiver.otlp.default"].args
    assert receiver.grpc.max_recv_msg_size == 8 * 1024 * 1024  # type: ignore[attr-defined]
    assert p.nodes["otelcol.processor.memory_limiter.default_traces"].args.limit == 512 * 1024 * 1024  # type: ignore[attr-defined]
    assert list(p.sources) == [str(tmp_path / "config.yaml")]


def test_env_substitution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_EP", "127.0.0.1:24318")
    monkeypatch.setenv("BATCH", "42")
    text = GATEWAY.replace("  batch:\n", "  batch:\n    send_batch_size: ${env:BATCH}\n    timeout: ${BATCH}s\n")
    p = _pipeline(tmp_path, text)
    assert p.nodes["otelcol.receiver.otlp.default"].args.http.endpoint == "127.0.0.1:24318"  # type: ignore[attr-defined]
    batch = p.nodes["otelcol.processor.batch.default_traces"].args
    assert batch.send_batch_size == 42 and batch.timeout == 42.0  # type: ignore[attr-defined]


def test_prometheus_receiver_and_remote_write(tmp_path: Path) -> None:
    text = """\
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: node
          scrape_interval: 15s
          static_configs:
            - targets: [127.0.0.1:9100]
              labels: {env: dev}
          metric_relabel_configs:
            - source_labels: [__name__]
              regex: go_.*
              action: drop
  otlp:
    protocols: {http: {endpoint: 127.0.0.1:14318}}
exporters:
  prometheusremotewrite:
    endpoint: http://127.0.0.1:9090/api/v1/write
    external_labels: {cluster: a}
    resource_to_telemetry_conversion: {enabled: true}
    remote_write_queue: {queue_size: 100, num_consumers: 2}
    wal: {truncate_frequency: 1m}
service:
  pipelines:
    metrics:
      receivers: [otlp, prometheus]
      exporters: [prometheusremotewrite]
"""
    p = _pipeline(tmp_path, text)
    assert set(p.nodes) == {
        "prometheus.scrape.default_node", "prometheus.relabel.default_node", "otelcol.receiver.otlp.default",
        "otelcol.exporter.prometheus.default", "prometheus.remote_write.default",
    }
    scrape = p.nodes["prometheus.scrape.default_node"].args
    assert scrape.targets == [{"__address__": "127.0.0.1:9100", "env": "dev"}]  # type: ignore[attr-defined]
    rw = p.nodes["prometheus.remote_write.default"].args
    assert rw.external_labels == {"cluster": "a"}  # type: ignore[attr-defined]
    assert rw.endpoint[0].queue_config.capacity == 100  # type: ignore[attr-defined]
    assert p.nodes["otelcol.exporter.prometheus.default"].args.resource_to_telemetry_conversion is True  # type: ignore[attr-defined]


def test_convert_output_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, GATEWAY)
    out = tmp_path / "out.alloy"
    assert main(["convert", "--source-format=otelcol", str(path), "-o", str(out)]) == 0
    converted = load(out)
    assert set(converted.nodes) == set(_pipeline(tmp_path, GATEWAY).nodes)


BROKEN = [
    # (yaml, line:col, message fragment)
    ("receivers:\n  otlp:\n    protocols:\n      grpc:\n        foo: 1\n", "5:9", "'grpc' has invalid keys: foo"),
    ("receivers: [\n", "2:1", "yaml:"),
    ("bogus: 1\n", "1:1", "'' has invalid keys: bogus"),
    ("processors:\n  nope:\n", "2:3", 'unknown type: "nope"'),
    ("extensions:\n  health_check:\n    colour: red\n", "3:5", "'health_check' has invalid keys: colour"),
    ("receivers:\n  otlp:\n    protocols:\n      http:\n        idle_timeout: nope\n", "5:23", 'invalid duration "nope"'),
]
_TAIL = """\
receivers:
  otlp:
    protocols: {grpc: {endpoint: 127.0.0.1:14317}}
exporters:
  debug:
service:
  pipelines:
    traces: {receivers: [otlp], exporters: [debug]}
"""


def _merge(fragment: str) -> str:
    """`fragment` on top; the sections it does not define come from `_TAIL`."""
    defined = {line.split(":")[0] for line in fragment.splitlines() if line and not line[0].isspace()}
    out, keep = [], True
    for line in _TAIL.splitlines():
        if line and not line[0].isspace():
            keep = line.split(":")[0] not in defined
        if keep:
            out.append(line)
    return fragment + "\n".join(out) + "\n"


@pytest.mark.parametrize(("fragment", "where", "message"), BROKEN)
def test_broken_configs_are_located(tmp_path: Path, fragment: str, where: str, message: str) -> None:
    path = _write(tmp_path, _merge(fragment) if not fragment.startswith("receivers: [") else fragment)
    with pytest.raises(DiagnosticError) as info:
        load(path, storage_path=tmp_path)
    rendered = info.value.render()
    assert f"{path}:{where}: " in rendered and message in rendered, rendered
    assert "Traceback" not in rendered


def test_undefined_and_unused(tmp_path: Path) -> None:
    text = _TAIL.replace("exporters: [debug]", "exporters: [debug, otlp/x]") + "  extensions: []\n"
    with pytest.raises(DiagnosticError) as info:
        _pipeline(tmp_path, text)
    assert 'references exporter "otlp/x" which is not configured' in info.value.render()
    p = _pipeline(tmp_path, _TAIL.replace("  debug:\n", "  debug:\n  debug/unused:\n"))
    assert any("not used in any pipeline" in d.message for d in p.warnings)


def test_cli_validate_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, GATEWAY)
    assert main(["validate", str(path)]) == 0
    bad = _write(tmp_path, GATEWAY.replace("limit_mib: 512", "limit_mib: 512\n    nope: 1"), "bad.yml")
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.yml:14:5: 'memory_limiter' has invalid keys: nope" in err


def test_encoding_from_yaml() -> None:
    from collector.config.stdlib import STDLIB

    fn = STDLIB["encoding"]["from_yaml"]
    assert fn.call("a: [1, 2.5, true, null, s]\n") == {"a": [1, 2.5, True, None, "s"]}
