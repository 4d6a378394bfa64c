"""`collector top` against a running collector: its rendering function, the `--once` command, and
the live view under tmux (skipped loudly without tmux)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from typing import Iterator

import pytest
from rich.console import Console

from collector.testing.process import CollectorProcess, free_port
from collector.testing.sdk import send_spans, wait_until
from collector.top import fetch_snapshot, render

CONFIG = """
otelcol.receiver.otlp "default" {
  http {
    endpoint = "127.0.0.1:%(otlp)d"
  }
  output {
    traces = [otelcol.processor.batch.default.input]
  }
}

otelcol.processor.batch "default" {
  output {
    traces = [otelcol.exporter.debug.out.input]
  }
}

otelcol.exporter.debug "out" {
  verbosity = "basic"
}
"""
COMPONENTS = ("otelcol.receiver.otlp.default", "otelcol.processor.batch.default", "otelcol.exporter.debug.out")


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[CollectorProcess, str]]:
    otlp = free_port()
    with CollectorProcess(CONFIG % {"otlp": otlp}, shutdown_timeout="2s") as proc:
        yield proc, f"http://127.0.0.1:{otlp}"


def frame_text(address: str, width: int = 160) -> str:
    console = Console(record=True, width=width, force_terminal=False, color_system=None)
    console.print(render(fetch_snapshot(address)))
    return console.export_text()


def test_a_frame_shows_components_health_rates_and_processes(running: tuple[CollectorProcess, str]) -> None:
    proc, endpoint = running

    def batch_has_rates() -> bool:
        send_spans("http", endpoint, 50)
        row = next(line for line in frame_text(proc.admin_addr).splitlines()
                   if "otelcol.processor.batch.default" in line)
        return "healthy" in row and "—" not in row  # in and out are numbers once counters were sampled twice

    assert wait_until(batch_has_rates, timeout=60, interval=1.0), frame_text(proc.admin_addr)
    text = frame_text(proc.admin_addr)
    for component in COMPONENTS:
        assert component in text
    for process in ("supervisor", "receiver/0", "worker traces/0", "worker metrics/0", "worker logs/0"):
        assert process in text
    assert "ready" in text and "3 components" in text
    worker = next(line for line in text.splitlines() if "worker traces/0" in line)
    assert "%" in worker and "MiB" in worker  # CPU, RSS and ring fill


def test_once_prints_a_frame_and_an_unreachable_collector_exits_1(running: tuple[CollectorProcess, str]) -> None:
    proc, _ = running
    result = subprocess.run([sys.executable, "-m", "collector", "top", "--once",
                             f"--server.http.listen-addr={proc.admin_addr}"],
                            capture_output=True, text=True, timeout=60, env={"COLUMNS": "160", "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert all(component in result.stdout for component in COMPONENTS)
    result = subprocess.run([sys.executable, "-m", "collector", "top", "--once",
                             f"--server.http.listen-addr=127.0.0.1:{free_port()}"],
                            capture_output=True, text=True, timeout=60, env={"COLUMNS": "160", "PATH": ""})
    assert result.returncode == 1 and "cannot reach the admin API" in result.stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="TMUX TEST SKIPPED: tmux is not installed")
def test_live_view_under_tmux_refreshes_and_quits_on_q(running: tuple[CollectorProcess, str]) -> None:
    proc, _ = running
    session = f"collector-top-{free_port()}"
    # rich sizes itself from COLUMNS/LINES when set (pytest's environment may set them): use the pane's size
    command = f"env -u COLUMNS -u LINES {sys.executable} -m collector top --server.http.listen-addr={proc.admin_addr}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "45", command], check=True)
    try:
        def screen() -> str:
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                  text=True).stdout

        assert wait_until(lambda: "otelcol.processor.batch.default" in screen(), timeout=30), (
            screen(), subprocess.run(["tmux", "list-panes", "-t", session, "-F", "#{pane_current_command} #{pane_dead}"],
                                     capture_output=True, text=True).stdout)
        first = next(line for line in screen().splitlines() if "collector" in line and "components" in line)
        assert wait_until(lambda: first not in screen(), timeout=10)  # the clock in the header moved on
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)

        def gone() -> bool:
            return subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode != 0

        assert wait_until(gone, timeout=10)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        time.sleep(0.1)
