"""Operating a running collector: the support bundle (`GET /-/support`, `collector support`), the
`logging` block's two formats on stderr of every process, and `collector run --config.file`.

One collector per log format, configured with secrets in three places (a basic-auth password, a
header map of secrets, a URL's userinfo): every line it writes must parse in the chosen format and
come from the supervisor and its children; the bundle must hold the configuration with none of the
secrets, the components, processes and status, two metric samples and every process's recent logs.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from collector.testing.configs import otlp_pipeline
from collector.testing.process import CollectorProcess, free_port
from collector.testing.sdk import send_spans, wait_until
from collector.testing.sink import SinkThread
from collector.signals import Signal

SECRETS = ("basic-pass-7f3a9", "tenant-token-51c0e", "url-pass-c29d1")


def config_with_secrets(fmt: str, http_port: int, sink: SinkThread) -> str:
    """OTLP/HTTP traces to `sink`, logging in `fmt`, and a remote_write with the three secrets."""
    return f"""
logging {{
  level  = "debug"
  format = "{fmt}"
}}
""" + otlp_pipeline(sink_url=sink.url, http_port=http_port) + f"""
prometheus.remote_write "rw" {{
  endpoint {{
    url     = "http://user:url-pass-c29d1@127.0.0.1:{sink.port}/api/v1/write"
    headers = {{ "X-Scope-OrgID" = "tenant-token-51c0e" }}
  }}
  endpoint {{
    url = "http://127.0.0.1:{sink.port}/api/v1/write"
    basic_auth {{
      username = "operator"
      password = "basic-pass-7f3a9"
    }}
  }}
}}
"""


_LOGFMT_PAIR = re.compile(r'([A-Za-z_]+)=("(?:[^"\\]|\\.)*"|\S*)(?: |$)')
_LEVELS = {"debug", "info", "warn", "error"}


def parse_logfmt(line: str) -> dict[str, str]:
    """A logfmt line as key -> value; raises ValueError if any part of it is not `key=value`."""
    pairs = list(_LOGFMT_PAIR.finditer(line))
    if not pairs or "".join(m.group(0) for m in pairs).rstrip() != line.rstrip():
        raise ValueError(f"not logfmt: {line!r}")
    return {m.group(1): json.loads(m.group(2)) if m.group(2).startswith('"') else m.group(2) for m in pairs}


def parse_line(line: str, fmt: str) -> dict[str, Any]:
    doc = json.loads(line) if fmt == "json" else parse_logfmt(line)
    assert isinstance(doc, dict) and {"ts", "level", "msg", "proc"} <= doc.keys(), line
    assert doc["level"] in _LEVELS, line
    return doc


@pytest.fixture(params=["json", "logfmt"])
def running(request: pytest.FixtureRequest) -> Iterator[tuple[CollectorProcess, SinkThread, str]]:
    fmt = request.param
    with SinkThread() as sink:
        http_port = free_port()
        collector = CollectorProcess(config_with_secrets(fmt, http_port, sink),
                                     env={"COLLECTOR_TRACES_WORKERS": "1", "COLLECTOR_METRICS_WORKERS": "1",
                                          "COLLECTOR_LOGS_WORKERS": "1"})
        collector.start()
        try:
            send_spans("http", f"http://127.0.0.1:{http_port}", 20)
            assert wait_until(lambda: sink.sink.items(Signal.TRACES) >= 20, timeout=60)
            yield collector, sink, fmt
        finally:
            collector.stop()


def _members(bundle: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


def test_every_process_logs_in_the_configured_format(running: tuple[CollectorProcess, SinkThread, str]) -> None:
    collector, _sink, fmt = running
    collector.stop()  # shutdown lines too
    lines = [line for line in collector.logs().splitlines() if line.strip()]
    procs = {parse_line(line, fmt)["proc"] for line in lines}
    assert {"supervisor", "receiver/0", "worker traces/0", "worker metrics/0", "worker logs/0"} <= procs, procs
    assert not any(secret in line for line in lines for secret in SECRETS)


def test_support_bundle(running: tuple[CollectorProcess, SinkThread, str], tmp_path: Path) -> None:
    collector, _sink, fmt = running
    if fmt == "json":  # through the command, which saves the zip
        target = tmp_path / "bundle.zip"
        result = subprocess.run([sys.executable, "-m", "collector", "support", "--server.http.listen-addr",
                                 collector.admin_addr, "--duration", "1s", "-o", str(target)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        bundle = target.read_bytes()
    else:
        status, body = collector.get("/-/support?duration=abc")
        assert status == 400 and "invalid duration" in body
        status, body = collector.get("/-/support?duration=100000")
        assert status == 400 and "between 0 and 300" in body
        with urllib.request.urlopen(collector.admin_url + "/-/support?duration=1", timeout=60) as response:
            assert response.headers["Content-Type"] == "application/zip"
            assert "attachment" in response.headers["Content-Disposition"]
            bundle = response.read()
    members = _members(bundle)
    for name in ("collector-metadata.json", "collector-components.json", "collector-processes.json",
                 "collector-status.json", "collector-metrics-sample-start.txt", "collector-metrics-sample-end.txt",
                 "collector-environment.txt", "sources/config.alloy", "collector-logs/supervisor.log",
                 "collector-logs/receiver-0.log", "collector-logs/worker-traces-0.log",
                 "collector-logs/worker-metrics-0.log"):
        assert name in members, sorted(members)
    for name, text in members.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} leaked into {name}"

    source = members["sources/config.alloy"]
    assert source.count("<secret>") >= 3  # password, header value, URL password
    assert 'username = "operator"' in source and "http://user:<secret>@127.0.0.1" in source
    assert 'prometheus.remote_write "rw"' in source

    metadata = json.loads(members["collector-metadata.json"])
    assert metadata["durationSeconds"] == 1 and metadata["logging"] == {"level": "debug", "format": fmt}
    assert metadata["topology"]["workers"] == {"traces": 1, "metrics": 1, "logs": 1}
    components = {c["localID"] for c in json.loads(members["collector-components.json"])}
    assert components == {"otelcol.receiver.otlp.in", "otelcol.processor.batch.b", "otelcol.exporter.otlphttp.out",
                          "prometheus.remote_write.rw"}
    assert json.loads(members["collector-status.json"])["ready"] is True
    assert {p["key"] for p in json.loads(members["collector-processes.json"])} >= {"supervisor", "receiver/0"}
    accepted = re.search(r'^otelcol_receiver_accepted_spans(?:_total)?\{[^}]*\} (\S+)$',
                         members["collector-metrics-sample-end.txt"], re.M)
    assert accepted is not None and float(accepted.group(1)) >= 20
    assert "COLLECTOR_TRACES_WORKERS=1" in members["collector-environment.txt"]
    for name, text in members.items():
        if name.startswith("collector-logs/"):
            lines = [line for line in text.splitlines() if line.strip()]
            assert lines, name
            for line in lines:
                parse_line(line, fmt)
    assert "started worker traces/0" in members["collector-logs/supervisor.log"]


def test_run_accepts_config_file_flag(tmp_path: Path) -> None:
    """`collector run --config.file=PATH` runs PATH, as a service file writes it."""
    config = tmp_path / "service.alloy"
    http_port, admin_port = free_port(), free_port()
    config.write_text(f"""
otelcol.receiver.otlp "in" {{
  http {{
    endpoint = "127.0.0.1:{http_port}"
  }}
  output {{}}
}}
""")
    env = {**os.environ, "COLLECTOR_TRACES_WORKERS": "1", "COLLECTOR_METRICS_WORKERS": "1",
           "COLLECTOR_LOGS_WORKERS": "1"}
    log = tmp_path / "collector.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "collector", "run", f"--config.file={config}",
                                    f"--server.http.listen-addr=127.0.0.1:{admin_port}",
                                    f"--storage.path={tmp_path / 'data'}"],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            def ready() -> bool:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/api/v0/web/status", timeout=2) as r:
                        return bool(json.loads(r.read())["ready"])
                except (OSError, ValueError):
                    return False

            assert wait_until(ready, timeout=60), log.read_text()
            with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/api/v0/web/status", timeout=5) as response:
                assert json.loads(response.read())["configFiles"] == [str(config)]
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(60) == 0, log.read_text()


def test_config_file_flag_and_positional_conflict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from collector.cli import main

    first, second = tmp_path / "a.alloy", tmp_path / "b.alloy"
    first.write_text("")
    second.write_text("")
    assert main(["validate", f"--config.file={first}"]) == 0
    assert main(["validate", str(first), f"--config.file={first}"]) == 0
    assert main(["run", str(first), f"--config.file={second}"]) == 1
    assert "given twice" in capsys.readouterr().err


def test_reload_applies_a_new_logging_block(tmp_path: Path) -> None:
    """A reload that changes `logging { format }` switches the supervisor and the children."""
    with SinkThread() as sink:
        http_port = free_port()
        collector = CollectorProcess(
            config_with_secrets("logfmt", http_port, sink),
            env={"COLLECTOR_TRACES_WORKERS": "1", "COLLECTOR_METRICS_WORKERS": "1", "COLLECTOR_LOGS_WORKERS": "1"})
        collector.start()
        try:
            before = len(collector.logs().splitlines())
            collector.config_path.write_text(config_with_secrets("json", http_port, sink))
            assert collector.reload()[0] == 200

            def reloaded_as_json() -> set[str]:
                procs = set()
                for line in collector.logs().splitlines()[before:]:
                    if line.startswith("{"):
                        doc = parse_line(line, "json")
                        if "reloaded" in doc["msg"]:
                            procs.add(doc["proc"])
                return procs if {"supervisor", "worker traces/0"} <= procs else set()

            assert wait_until(lambda: bool(reloaded_as_json()), timeout=60), collector.logs()
        finally:
            collector.stop()


def test_support_command_with_an_authenticated_admin_server(tmp_path: Path) -> None:
    """With `http { auth { basic } }`, `collector support` needs --username and the password file;
    the bundle's copy of the configuration hides the admin password too."""
    http_port = free_port()
    config = f"""
http {{
  auth {{
    basic {{
      username = "ops"
      password = "admin-pass-9d41"
    }}
    filter {{
      paths = ["/-/ready"]
    }}
  }}
}}

otelcol.receiver.otlp "in" {{
  http {{
    endpoint = "127.0.0.1:{http_port}"
  }}
  output {{}}
}}
"""
    collector = CollectorProcess(config, env={"COLLECTOR_TRACES_WORKERS": "1", "COLLECTOR_METRICS_WORKERS": "1",
                                              "COLLECTOR_LOGS_WORKERS": "1"})
    collector.start()
    try:
        command = [sys.executable, "-m", "collector", "support", "--url", collector.admin_url, "--duration", "0s",
                   "-o", str(tmp_path / "bundle.zip")]
        refused = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert refused.returncode == 1 and "HTTP 401" in refused.stderr, refused.stderr
        assert not (tmp_path / "bundle.zip").exists()
        password = tmp_path / "password"
        password.write_text("admin-pass-9d41\n")
        done = subprocess.run([*command, "--username", "ops", "--password-file", str(password)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        members = _members((tmp_path / "bundle.zip").read_bytes())
        assert 'username = "ops"' in members["sources/config.alloy"]
        assert not any("admin-pass-9d41" in text for text in members.values())
    finally:
        collector.stop()
