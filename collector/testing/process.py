"""Start a real `collector run` as a subprocess for tests and benchmarks, and stop it afterwards.

The configuration is a template: `{name}` placeholders are filled in (e.g. free ports, sink URLs), so
tests never hard-code ports. Readiness is `/-/ready` on the admin address, never a sleep.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Mapping

import psutil


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OtlpEndpoints:
    """Where a test sends OTLP to a collector it started: its receiver's ports, as addresses."""

    grpc_port: int
    http_port: int

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


class CollectorProcess:
    def __init__(self, config: str, *, env: Mapping[str, str] | None = None, workdir: Path | None = None,
                 shutdown_timeout: str = "10s", extra_args: tuple[str, ...] = (),
                 storage: Path | None = None, config_name: str = "config.alloy") -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="collector-test-") if workdir is None else None
        self.workdir = Path(self._tmp.name) if self._tmp else workdir
        assert self.workdir is not None
        self.config_path = self.workdir / config_name  # `config.yaml` runs an OpenTelemetry Collector YAML
        self.config_path.write_text(config)
        self.admin_port = free_port()
        self.admin_addr = f"127.0.0.1:{self.admin_port}"
        self.storage = storage if storage is not None else self.workdir / "data"
        self.env = {**os.environ, **(env or {})}
        self.shutdown_timeout = shutdown_timeout
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "collector.log"
        self._log: BinaryIO | None = None

    @property
    def admin_url(self) -> str:
        return f"http://{self.admin_addr}"

    def start(self, timeout: float = 60.0) -> CollectorProcess:
        self._launch("wb")
        self.wait_ready(timeout)
        return self

    def run_to_exit(self, timeout: float = 60.0) -> tuple[int, str]:
        """Start a collector that is expected to refuse to run: (exit code, its output)."""
        self._launch("wb")
        assert self.process is not None
        try:
            code = self.process.wait(timeout)
        finally:
            self.stop()
        return code, self.logs()

    def kill_tree(self) -> list[int]:
        """SIGKILL the supervisor and every child at once, as an OOM kill of the whole cgroup or a
        `kill -9` of the process group would: `os.killpg` on the supervisor's group and on each
        child's (children run in sessions of their own). Returns the pids killed."""
        assert self.process is not None
        pids = [self.process.pid]
        try:
            pids += [child.pid for child in psutil.Process(self.process.pid).children(recursive=True)]
        except psutil.Error:
            pass
        groups = set()
        for pid in pids:
            try:
                groups.add(os.getpgid(pid))
            except ProcessLookupError:
                pass
        groups.discard(os.getpgrp())  # never the test runner's own group
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()
        for pid in pids[1:]:
            _wait_gone(pid)
        self.process = None
        if self._log:
            self._log.close()
            self._log = None
        return pids

    def _launch(self, mode: str) -> None:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("the collector is already running: stop it before starting it again")
        self._log = open(self.log_path, mode)  # type: ignore[assignment]  # "wb" or "ab": binary
        LAUNCHED_STORAGE.add(Path(self.storage).absolute())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "collector", "run", str(self.config_path),
             "--server.http.listen-addr", self.admin_addr, "--storage.path", str(self.storage),
             "--shutdown-timeout", self.shutdown_timeout, *self.extra_args],
            env=self.env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so `kill_tree` cannot hit the test runner
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"collector exited with {self.process.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(self.admin_url + "/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"collector not ready after {timeout}s:\n{self.logs()}")

    def get(self, path: str) -> tuple[int, str]:
        return self._request(urllib.request.Request(self.admin_url + path), timeout=10)

    def reload(self) -> tuple[int, str]:
        """`POST /-/reload`: the collector rereads its configuration file; the answer's status and body
        (an invalid configuration: 400 with the located errors)."""
        return self._request(urllib.request.Request(self.admin_url + "/-/reload", data=b"", method="POST"),
                             timeout=120)

    @staticmethod
    def _request(request: urllib.request.Request, timeout: float) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def metric_value(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` on /metrics whose labels include `labels`."""
        _, text = self.get("/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            series, _, value = line.rpartition(" ")
            metric, _, label_text = series.partition("{")
            if metric != name:
                continue
            if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
                total += float(value)
        return total

    def children(self) -> dict[str, psutil.Process]:
        """Child processes by title: "worker traces/0", "receiver/0", ..."""
        assert self.process is not None
        found = {}
        for child in psutil.Process(self.process.pid).children(recursive=True):  # forked ones are grandchildren
            try:
                title = " ".join(child.cmdline()).strip()
            except psutil.Error:
                continue
            if title.startswith("collector: ") and title != "collector: fork server":
                found[title[len("collector: "):]] = child
        return found

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 60.0) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                for child in psutil.Process(self.process.pid).children(recursive=True):
                    child.kill()
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        if self._log:
            self._log.close()
        return code

    def restart(self, timeout: float = 60.0) -> CollectorProcess:
        """Start again with the same configuration, storage path and admin port, appending to the log."""
        self._launch("ab")
        self.wait_ready(timeout)
        return self

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            if self.storage.is_relative_to(self._tmp.name):  # nobody can start this instance again
                release_rings(self.storage)
            self._tmp.cleanup()

    def __enter__(self) -> CollectorProcess:
        """Start the collector, unless it already runs (`with CollectorProcess(...).start():`): a
        second launch would leave the first process running after `close()`."""
        return self if self.process is not None else self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.02)


LAUNCHED_STORAGE: set[Path] = set()  # every --storage.path a CollectorProcess of this process ran on


def release_orphaned_rings() -> list[str]:
    """`release_rings` for every storage path a test collector ran on that no longer exists (the
    test's temporary directory is gone): called once at the end of a test session."""
    released: list[str] = []
    for storage in sorted(LAUNCHED_STORAGE):
        if not storage.exists():
            released += release_rings(storage)
    return released


def release_rings(storage: Path) -> list[str]:
    """Unlink the shared-memory rings of the collector instance on `storage`, for a test about to
    delete that storage path. A collector stopped while a backend was down keeps its unsettled
    records in its rings for the next start on the same path (ARCHITECTURE.md, durability); once
    the path is gone no start can adopt them, and they would stay in /dev/shm until a reboot."""
    from collector.runtime.adoption import SHM_DIR, find_rings
    from collector.runtime.instance import instance_id

    path = Path(storage).absolute()
    released = []
    for ring in find_rings(instance_id(path.resolve() if path.exists() else path)):
        (SHM_DIR / ring.name).unlink(missing_ok=True)
        released.append(ring.name)
    return released
