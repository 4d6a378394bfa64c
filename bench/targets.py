"""The collectors under test, started the same way for every run: ours and peers (rotel).

A target is a context manager that starts a process tree listening on the given OTLP ports and
exporting to the sink, and exposes the root pid for /proc accounting.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Protocol

from bench.scenario import Scenario
from collector.testing.process import CollectorProcess


class Target(Protocol):
    name: str
    pid: int

    def __enter__(self) -> Target: ...

    def __exit__(self, *exc: object) -> None: ...


def wait_tcp(port: int, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class DebugViewer:
    """A live debugging viewer (`/api/v0/web/debug/<id>`) that reads and discards the stream, as a
    browser tab left open would, for the whole run."""

    def __init__(self, admin_port: int, component_id: str, sample_prob: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", admin_port), timeout=30)
        self.sock.sendall(f"GET /api/v0/web/debug/{component_id}?sampleProb={sample_prob} HTTP/1.0\r\n"
                          f"Host: 127.0.0.1\r\n\r\n".encode())
        self.records = 0
        self.thread = threading.Thread(target=self._read, name="debug viewer", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = self.sock.recv(1 << 16)
            except OSError:
                return
            if not chunk:
                return
            self.records += chunk.count(b"|;|")

    def close(self) -> None:
        self.sock.close()
        self.thread.join(timeout=5)


class Collector:
    """Our collector (`python -m collector run`) with the scenario's configuration and worker counts."""

    name = "collector"

    def __init__(self, scenario: Scenario, grpc_port: int, http_port: int, sink_url: str, workers: int) -> None:
        env = scenario.config_env(sink_url)
        if not scenario.default_workers:
            env.update({f"COLLECTOR_{signal.upper()}_WORKERS": str(workers) for signal in scenario.signals})
        env.update(scenario.env)
        self.process = CollectorProcess(scenario.render_config(grpc_port, http_port, sink_url), env=env)
        self.scenario = scenario
        self.viewer: DebugViewer | None = None
        self.pid = 0

    def __enter__(self) -> Collector:
        self.process.start()
        assert self.process.process is not None
        self.pid = self.process.process.pid
        if self.scenario.debug_viewer:
            self.viewer = DebugViewer(self.process.admin_port, self.scenario.debug_viewer,
                                      self.scenario.debug_sample_prob)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.viewer is not None:
            self.viewer.close()
            print(f"    live debugging viewer received {self.viewer.records} records", flush=True)
        self.process.close()


def rotel_binary() -> Path | None:
    """`rotel-agent` as shipped inside the `rotel` wheel (the package is not imported)."""
    spec = importlib.util.find_spec("rotel")
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(list(spec.submodule_search_locations)[0]) / "rotel-agent"
    return binary if binary.exists() and os.access(binary, os.X_OK) else None


class Rotel:
    """rotel-agent: OTLP in, batching (its defaults: 8192 items / 200 ms), OTLP/HTTP out with gzip."""

    name = "rotel"
    extra_args: tuple[str, ...] = ()

    def __init__(self, scenario: Scenario, grpc_port: int, http_port: int, sink_url: str, workers: int) -> None:
        binary = rotel_binary()
        if binary is None:
            raise RuntimeError("rotel is not installed (pip install rotel)")
        self.http_port, self.grpc_port = http_port, grpc_port
        self.command = [str(binary), "start", "--otlp-grpc-endpoint", f"127.0.0.1:{grpc_port}",
                        "--otlp-http-endpoint", f"127.0.0.1:{http_port}", "--exporter", "otlp",
                        "--otlp-exporter-protocol", "http", "--otlp-exporter-endpoint", sink_url, *self.extra_args]
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.TemporaryFile()
        self.pid = 0

    def __enter__(self) -> Rotel:
        self.proc = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        wait_tcp(self.http_port, process=self.proc)
        wait_tcp(self.grpc_port, process=self.proc)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class RotelUncompressed(Rotel):
    """rotel exporting without compression. Our exporter's default is gzip level 1 (ISA-L), rotel's is
    zlib's default level, which costs several CPU-seconds per million spans by itself: the two rotel
    figures bracket a like-for-like comparison."""

    name = "rotel-uncompressed"
    extra_args = ("--otlp-exporter-compression", "none")


TARGETS: dict[str, type[Collector] | type[Rotel]] = {"collector": Collector, "rotel": Rotel,
                                                     "rotel-uncompressed": RotelUncompressed}
