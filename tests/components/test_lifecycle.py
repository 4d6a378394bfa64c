"""Every registered component survives two full build -> start -> shutdown cycles without leaking.

A reload replaces components, so building and stopping instances over and over is normal operation:
each cycle must leave no asyncio task, thread, socket (listening or connected) or open file behind.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from collector.components.kit.api import RuntimeServices
from collector.components.kit.catalog import COMPONENTS
from collector.components.kit.registry import lookup
from collector.config.values import Secret
from collector.testing.admission import CollectingAdmission
from collector.testing.context import build_context


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _minimal_arguments(name: str) -> dict[str, Any]:
    """The least each component needs to be valid; listeners and peers on free loopback ports."""
    port = _free_port()
    return {
        "discovery.relabel": {"targets": [{"__address__": "127.0.0.1:1"}]},
        "otelcol.auth.basic": {"htpasswd": {"inline": Secret("u:p")}, "client_auth": {"username": "u"}},
        "otelcol.auth.bearer": {"token": Secret("t")},
        "otelcol.auth.headers": {"header": [{"key": "k", "value": Secret("v")}]},
        "otelcol.connector.host_info": {"output": {}},
        "otelcol.exporter.debug": {},
        "otelcol.exporter.loadbalancing": {"resolver": {"static": {"hostnames": [f"127.0.0.1:{port}"]}},
                                           "protocol": {"otlp": {"client": {"tls": {"insecure": True}}}}},
        "otelcol.exporter.otlp": {"client": {"endpoint": f"127.0.0.1:{port}"}},
        "otelcol.exporter.otlphttp": {"client": {"endpoint": f"http://127.0.0.1:{port}"}},
        "otelcol.exporter.prometheus": {"forward_to": []},
        "otelcol.processor.attributes": {"output": {}},
        "otelcol.processor.batch": {"output": {}},
        "otelcol.processor.filter": {"output": {}},
        "otelcol.processor.memory_limiter": {"output": {}, "check_interval": 0.05, "limit": 1 << 30},
        "otelcol.processor.resourcedetection": {"output": {}, "detectors": ["env"]},
        "otelcol.processor.transform": {"output": {}},
        "otelcol.receiver.otlp": {"output": {}, "grpc": {"endpoint": f"127.0.0.1:{port}"},
                                  "http": {"endpoint": f"127.0.0.1:{_free_port()}"}},
        "otelcol.storage.file": {},
        "prometheus.exporter.self": {},
        "prometheus.relabel": {"forward_to": []},
        "prometheus.remote_write": {},
        "prometheus.scrape": {"targets": [{"__address__": f"127.0.0.1:{port}"}], "forward_to": []},
    }[name]


def _open_fds() -> dict[int, str]:
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[int(fd)] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the fd of the listing itself, closed meanwhile
            continue
    return found


def _threads() -> set[int]:
    return {t.ident for t in threading.enumerate() if t.is_alive() and t.ident is not None}


async def _cycle(name: str, tmp: Path) -> list[asyncio.Task[Any]]:
    info = lookup(name)
    assert info is not None
    args = msgspec.convert(_minimal_arguments(name), info.arguments)
    args.validate()
    services = RuntimeServices(admission=CollectingAdmission(), reuse_port=False, run_dir=tmp / "run",
                               workers_for_signal=1)
    ctx = build_context(info.factory, f"{name}.lifecycle", storage_path=tmp / "data", services=services)
    component = info.factory(ctx, args)
    await component.start()
    await asyncio.sleep(0.1)  # let background loops (flushers, checkers, housekeeping) run once
    await component.shutdown(time.monotonic() + 5)
    await component.shutdown(time.monotonic() + 5)  # idempotent
    for _ in range(5):  # closed transports and cancelled tasks finish on the next turns
        await asyncio.sleep(0)
    current = asyncio.current_task()
    return [task for task in asyncio.all_tasks() if task is not current and not task.done()]


@pytest.mark.parametrize("name", COMPONENTS)
def test_build_start_shutdown_twice_leaks_nothing(name: str, tmp_path: Path) -> None:
    # The first cycle may initialise process-wide machinery once (gRPC's core threads, its
    # polling fds); every later cycle must then return the process to the same state.
    left = asyncio.run(_cycle(name, tmp_path))
    assert left == [], f"{name} left tasks running: {left}"
    fds, threads = _open_fds(), _threads()
    left = asyncio.run(_cycle(name, tmp_path))
    assert left == [], f"{name} left tasks running: {left}"
    deadline = time.monotonic() + 5
    while (_threads() - threads) and time.monotonic() < deadline:  # executor threads wind down
        time.sleep(0.05)
    assert _threads() - threads == set(), f"{name} leaked threads"
    def opened() -> dict[int, str]:
        return {fd: target for fd, target in _open_fds().items() if fds.get(fd) != target}

    while opened() and time.monotonic() < deadline:  # gRPC's core closes its pollers from its own threads
        time.sleep(0.05)
    assert opened() == {}, f"{name} leaked files or sockets: {opened()}"


def test_every_component_is_covered() -> None:
    for name in COMPONENTS:
        assert _minimal_arguments(name) is not None
