"""Start and stop a real Prometheus server (and node exporter) for tests, and read data back.

The binaries come from Debian's `prometheus` and `prometheus-node-exporter` packages, installed by
scripts/install-system-deps.sh. Both listen on a free 127.0.0.1 port; readiness is `/-/ready` (or a
first `/metrics` answer), never a sleep. The Prometheus server keeps its TSDB in the directory it is
given, so a test can stop it and start it again on the same data.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Self, TypeVar

from collector.testing.process import free_port

T = TypeVar("T")

# Exporters of node_exporter that need no privileges and little time (everything else is off).
NODE_COLLECTORS = ("loadavg", "meminfo", "time", "uname", "stat")


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def node_exporter_binary() -> str | None:
    return shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if _get(url, timeout=2)[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} not ready after {timeout}s:\n{log.read_text(errors='replace')}")


def _stop(process: subprocess.Popen[bytes] | None, timeout: float = 30.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_until(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.25) -> T:
    """Poll `check` until it returns something truthy (readiness of data, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class _ExternalServer:
    """A third-party binary a test runs on a free 127.0.0.1 port.

    Its output goes to `log_path` (shown when it fails to come up); `start` returns once its
    readiness URL answers, and `stop` (also on leaving a `with` block) always reaps it."""

    def __init__(self, binary: str, log_path: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = log_path

    def start(self, timeout: float = 30.0) -> Self:
        """Launch (through `_launch`) and wait until ready; each server knows its arguments."""
        raise NotImplementedError

    def _launch(self, args: list[str], ready_url: str, timeout: float) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([self.binary, *args], stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        _wait_http(ready_url, self.process, self.log_path, timeout)

    def stop(self) -> None:
        _stop(self.process)
        self.process = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class PrometheusServer(_ExternalServer):
    """`prometheus` with the remote-write receiver enabled, no scrape jobs, TSDB in `storage`."""

    def __init__(self, storage: Path, *, binary: str | None = None) -> None:
        super().__init__(binary or prometheus_binary() or "prometheus", storage.parent / f"{storage.name}.log")
        self.storage = storage

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def write_url(self) -> str:
        return f"{self.url}/api/v1/write"

    def start(self, timeout: float = 60.0) -> Self:
        self.storage.mkdir(parents=True, exist_ok=True)
        config = self.storage.parent / f"{self.storage.name}.yml"
        config.write_text("global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\nscrape_configs: []\n")
        self._launch([f"--config.file={config}", f"--storage.tsdb.path={self.storage}",
                      f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-remote-write-receiver",
                      "--storage.tsdb.retention.time=1d", "--log.level=warn"],
                     f"{self.url}/-/ready", timeout)
        return self

    def _api(self, path: str, params: dict[str, str]) -> Any:
        status, body = _get(f"{self.url}{path}?{urllib.parse.urlencode(params)}", timeout=30)
        answer = json.loads(body)
        if status != 200 or answer.get("status") != "success":
            raise RuntimeError(f"{path} {params}: HTTP {status}: {answer}")
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant vector `expr` at now: [{"metric": {labels}, "value": [t, "v"]}, ...]."""
        return list(self._api("/api/v1/query", {"query": expr, "time": f"{time.time():.3f}"})["result"])

    def samples(self, selector: str, window: str = "1h") -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
        """Every raw sample of `selector` in the last `window`, by label set: {labels: [(ms, value), ...]}."""
        data = self._api("/api/v1/query", {"query": f"{selector}[{window}]", "time": f"{time.time():.3f}"})
        out: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = {}
        for series in data["result"]:
            key = tuple(sorted(series["metric"].items()))
            out[key] = [(round(float(t) * 1000), float(v)) for t, v in series["values"]]
        return out


class NodeExporter(_ExternalServer):
    """`prometheus-node-exporter` with only unprivileged, cheap collectors."""

    def __init__(self, workdir: Path, *, binary: str | None = None) -> None:
        super().__init__(binary or node_exporter_binary() or "prometheus-node-exporter", workdir / "node-exporter.log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Self:
        collectors = [f"--collector.{name}" for name in NODE_COLLECTORS]
        self._launch([f"--web.listen-address={self.address}", "--collector.disable-defaults", *collectors],
                     f"http://{self.address}/metrics", timeout)
        return self
