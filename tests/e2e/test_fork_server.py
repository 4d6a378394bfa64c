"""Children forked by the fork server (collector/runtime/forkserver.py): they share its imported modules,
they are restarted when they die, and the whole tree survives the fork server's own death."""

from __future__ import annotations

import json
import signal
from typing import Iterator

import psutil
import pytest

from collector.runtime.settings import SettingsError, topology_from_env
from collector.signals import Signal
from collector.testing.sdk import send_spans, wait_until
from tests.e2e.conftest import Gateway, start_gateway

CHILDREN = {"receiver/0", "worker traces/0", "worker metrics/0", "worker logs/0"}
ONE_EACH = {"COLLECTOR_TRACES_WORKERS": "1", "COLLECTOR_METRICS_WORKERS": "1", "COLLECTOR_LOGS_WORKERS": "1"}


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with start_gateway(env=ONE_EACH) as gw:
        yield gw


def fork_server_of(gateway: Gateway) -> psutil.Process:
    assert gateway.collector.process is not None
    found = [p for p in psutil.Process(gateway.collector.process.pid).children()
             if " ".join(p.cmdline()).strip() == "collector: fork server"]
    assert len(found) == 1, found
    return found[0]


def shared_dirty_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        return sum(int(line.split()[1]) for line in rollup if line.startswith("Shared_Dirty:"))


def test_every_child_is_forked_by_the_fork_server_and_shares_its_memory(gateway: Gateway) -> None:
    server = fork_server_of(gateway)
    children = gateway.collector.children()
    assert set(children) == CHILDREN
    for title, child in children.items():
        assert child.ppid() == server.pid, title
        # the modules the server imported stay shared copy-on-write: a fresh interpreter has ~none
        assert shared_dirty_kib(child.pid) > 2048, title


def test_a_killed_child_is_forked_again_and_data_flows(gateway: Gateway) -> None:
    victim = gateway.collector.children()["worker traces/0"]
    victim.send_signal(signal.SIGKILL)

    def restarted() -> bool:
        child = gateway.collector.children().get("worker traces/0")
        return child is not None and child.pid != victim.pid
    assert wait_until(restarted)
    assert gateway.collector.children()["worker traces/0"].ppid() == fork_server_of(gateway).pid
    send_spans("http", gateway.http_url, 150)
    assert wait_until(lambda: gateway.sink.sink.items(Signal.TRACES) >= 150)
    assert gateway.sink.sink.items(Signal.TRACES) == 150


def test_the_tree_survives_the_fork_servers_death(gateway: Gateway) -> None:
    server = fork_server_of(gateway)
    old = {title: child.pid for title, child in gateway.collector.children().items()}
    server.send_signal(signal.SIGKILL)

    def all_replaced() -> bool:
        now = gateway.collector.children()
        return set(now) == CHILDREN and all(now[t].pid != old[t] for t in CHILDREN)
    assert wait_until(all_replaced, timeout=60)
    assert fork_server_of(gateway).pid != server.pid
    for pid in old.values():
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    send_spans("grpc", gateway.grpc_endpoint, 80)
    assert wait_until(lambda: gateway.sink.sink.items(Signal.TRACES) >= 80)
    assert "its 4 children died with it" in gateway.collector.logs()


def test_switched_off_children_are_fresh_interpreters() -> None:
    with start_gateway(env={**ONE_EACH, "COLLECTOR_FORK_SERVER": "off"}) as gw:
        assert gw.collector.process is not None
        supervisor = gw.collector.process.pid
        children = gw.collector.children()
        assert set(children) == CHILDREN
        assert all(child.ppid() == supervisor for child in children.values())
        send_spans("http", gw.http_url, 40)
        assert wait_until(lambda: gw.sink.sink.items(Signal.TRACES) >= 40)


def test_the_switch_takes_on_or_off_only() -> None:
    assert topology_from_env({"COLLECTOR_FORK_SERVER": "off"}, cpu_count=2).fork_server is False
    assert topology_from_env({}, cpu_count=2).fork_server is True
    assert topology_from_env({"COLLECTOR_WORKERS_MODE": "inline"}, cpu_count=2).fork_server is False
    with pytest.raises(SettingsError, match="COLLECTOR_FORK_SERVER='sometimes': expected on or off"):
        topology_from_env({"COLLECTOR_FORK_SERVER": "sometimes"}, cpu_count=2)


def test_the_processes_api_shows_the_fork_server(gateway: Gateway) -> None:
    server = fork_server_of(gateway)
    status, body = gateway.collector.get("/api/v0/web/processes")
    assert status == 200
    rows = {row["key"]: row for row in json.loads(body)}
    assert rows["fork server"]["pid"] == server.pid
    assert rows["fork server"]["role"] == "fork-server"
