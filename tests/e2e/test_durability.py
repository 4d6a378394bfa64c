"""Durability across collector restarts (issue 11): adopting the rings after a whole-tree SIGKILL or
an undelivered SIGTERM, one collector per storage path, one collector per port, a storage path
checked at start-up, children that die with their supervisor, no run directory left behind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import psutil
import pytest

from collector.runtime.adoption import find_rings
from collector.runtime.instance import instance_id
from collector.signals import Signal
from collector.testing.process import CollectorProcess, free_port
from collector.testing.sdk import send_logs, send_spans, wait_until
from collector.testing.sink import OtlpSink, SinkThread
from tests.e2e.conftest import Gateway, gateway_config

SPANS, LOGS = 5_000, 2_000
CHUNK = 500  # per SDK provider: its queue (2,048) must not overflow, or the SDK drops spans itself


def durable_gateway(storage: Path, *, env: dict[str, str] | None = None, shutdown_timeout: str = "10s",
                    grpc_port: int | None = None) -> Gateway:
    """The e2e gateway on `storage`, retrying for minutes: long enough to outlive every outage here."""
    sink = SinkThread(OtlpSink(keep_requests=True)).start()
    grpc_port, http_port = grpc_port or free_port(), free_port()
    config = gateway_config(grpc_port=grpc_port, http_port=http_port, sink_url=sink.url, max_elapsed="10m")
    collector = CollectorProcess(config, storage=storage, env=env, shutdown_timeout=shutdown_timeout)
    return Gateway(sink, collector, grpc_port, http_port)


@pytest.fixture
def storage() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="collector-durability-") as tmp:
        yield Path(tmp) / "data"


def ids(sink: OtlpSink, signal: Signal) -> list[int]:
    """The id (`b` * CHUNK + `i` attributes) of every span or log record received (duplicates kept)."""
    found = []
    for request in list(sink.received[signal]):
        if signal is Signal.TRACES:
            items: Any = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
        else:
            items = [r for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records]
        for item in items:
            attrs = {attr.key: attr.value.int_value for attr in item.attributes}
            found.append(attrs["b"] * CHUNK + attrs["i"])
    return found


def port_is_served(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def all_arrived(sink: OtlpSink) -> bool:
    return set(ids(sink, Signal.TRACES)) == set(range(SPANS)) and set(ids(sink, Signal.LOGS)) == set(range(LOGS))


def accepted(collector: CollectorProcess) -> tuple[float, float]:
    return (collector.metric_value("otelcol_receiver_accepted_spans_total"),
            collector.metric_value("otelcol_receiver_accepted_log_records_total"))


def buffer_during_outage(setup: Gateway) -> None:
    """Send spans and logs with the SDK while the backend answers 503: all accepted, none delivered."""
    setup.sink.sink.fail(503)
    for chunk in range(SPANS // CHUNK):
        send_spans("grpc", setup.grpc_endpoint, CHUNK, attributes={"b": chunk})
    for chunk in range(LOGS // CHUNK):
        send_logs("http", setup.http_url, CHUNK, attributes={"b": chunk})
    assert wait_until(lambda: accepted(setup.collector) == (SPANS, LOGS), timeout=30), accepted(setup.collector)
    assert wait_until(lambda: setup.sink.sink.stats.refused_requests > 0, timeout=10)
    assert setup.sink.sink.items(Signal.TRACES) == 0


def test_whole_tree_sigkill_during_an_outage_loses_nothing_after_a_restart(storage: Path) -> None:
    with durable_gateway(storage) as setup:
        setup.collector.start()
        ident = instance_id(storage.resolve())
        buffer_during_outage(setup)
        killed = setup.collector.kill_tree()
        assert len(killed) >= 4 and not [p for p in killed if psutil.pid_exists(p)
                                         and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        assert find_rings(ident), "the rings must survive the kill"
        old_run_dirs = list(Path(tempfile.gettempdir()).glob(f"collector-i{ident}-{killed[0]}-*"))
        assert old_run_dirs, "a SIGKILLed supervisor leaves its run directory"

        setup.sink.sink.recover()
        setup.collector.restart()
        assert wait_until(lambda: all_arrived(setup.sink.sink), timeout=90), (
            len(set(ids(setup.sink.sink, Signal.TRACES))), len(set(ids(setup.sink.sink, Signal.LOGS))))
        duplicates = (len(ids(setup.sink.sink, Signal.TRACES)) - SPANS, len(ids(setup.sink.sink, Signal.LOGS)) - LOGS)
        print(f"duplicates after adoption (spans, logs): {duplicates}")
        assert setup.collector.metric_value("collector_ring_adopted_records_total", signal="traces") > 0
        assert setup.collector.metric_value("collector_ring_adopted_records_total", signal="logs") > 0
        assert not any(path.exists() for path in old_run_dirs)  # probe defect 7


def test_sigterm_with_the_backend_down_keeps_the_rest_for_the_next_start(storage: Path) -> None:
    with durable_gateway(storage, shutdown_timeout="1s") as setup:
        setup.collector.start()
        buffer_during_outage(setup)
        assert setup.collector.stop() == 0
        log = setup.collector.logs()
        assert "left in the rings for the next start" in log
        assert "keeps" in log and "undelivered records for the next start" in log
        assert "Dropping data at shutdown" not in log
        setup.sink.sink.recover()
        setup.collector.restart()
        assert wait_until(lambda: all_arrived(setup.sink.sink), timeout=90)


def test_two_collectors_with_one_storage_path_the_second_exits_1(storage: Path) -> None:
    first = durable_gateway(storage)
    second = durable_gateway(storage)
    try:
        first.collector.start()
        code, output = second.collector.run_to_exit(timeout=30)
        assert code == 1
        assert "another collector is already running with --storage.path" in output
        assert str(storage.resolve()) in output and "Traceback" not in output
        assert first.collector.get("/-/ready")[0] == 200
    finally:
        second.close()
        first.close()


def test_collectors_with_different_storage_paths_run_side_by_side_untouched(storage: Path) -> None:
    a, b = durable_gateway(storage / "a"), durable_gateway(storage / "b")
    try:
        a.collector.start()
        b.collector.start()
        id_a, id_b = instance_id((storage / "a").resolve()), instance_id((storage / "b").resolve())
        rings_a = {n.name for n in find_rings(id_a)}
        assert rings_a and not rings_a & {n.name for n in find_rings(id_b)}
        b.collector.kill_tree()  # b dies and comes back: it adopts only its own rings
        b.collector.restart()
        assert {n.name for n in find_rings(id_a)} == rings_a
        send_spans("http", a.http_url, 100)
        send_spans("http", b.http_url, 50)
        assert wait_until(lambda: a.sink.sink.items(Signal.TRACES) == 100 and b.sink.sink.items(Signal.TRACES) == 50)
        assert a.collector.metric_value("collector_ring_adopted_records_total") == 0
    finally:
        a.close()
        b.close()


@pytest.fixture
def readonly_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="collector-ro-") as tmp:
        path = Path(tmp) / "ro"
        path.mkdir()
        if os.geteuid() != 0:
            path.chmod(0o555)
            yield path
            path.chmod(0o755)
            return
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)],
                                 capture_output=True)
        if mounted.returncode != 0:
            pytest.skip(f"root cannot make a read-only directory here: {mounted.stderr.decode().strip()}")
        try:
            yield path
        finally:
            subprocess.run(["umount", str(path)], check=False)


def test_a_read_only_storage_path_is_exit_1_naming_it(readonly_dir: Path) -> None:
    with durable_gateway(readonly_dir) as setup:
        code, output = setup.collector.run_to_exit(timeout=30)
        assert code == 1
        assert f"--storage.path '{readonly_dir}' is not writable" in output
        assert "Traceback" not in output and "started worker" not in output  # checked once, before any child


def test_an_uncreatable_storage_path_is_exit_1_naming_it(storage: Path) -> None:
    storage.parent.mkdir(parents=True, exist_ok=True)
    (storage.parent / "file").write_text("x")
    with durable_gateway(storage.parent / "file" / "data") as setup:
        code, output = setup.collector.run_to_exit(timeout=30)
        assert code == 1 and "cannot be created" in output and str(storage.parent / "file" / "data") in output
        assert "Traceback" not in output


def test_a_second_collector_on_the_same_port_fails_to_bind(storage: Path) -> None:
    first = durable_gateway(storage / "a")
    second = durable_gateway(storage / "b", grpc_port=first.grpc_port)
    try:
        first.collector.start()
        code, output = second.collector.run_to_exit(timeout=30)
        assert code == 1
        assert f"port {first.grpc_port} is already served by another collector" in output
        assert "Traceback" not in output
        send_spans("grpc", first.grpc_endpoint, 200)  # nothing shared: every span reaches the first
        assert wait_until(lambda: first.sink.sink.items(Signal.TRACES) == 200)
    finally:
        second.close()
        first.close()


def test_a_port_held_by_another_program_is_a_clear_error(storage: Path) -> None:
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        with durable_gateway(storage, grpc_port=other.getsockname()[1]) as setup:
            code, output = setup.collector.run_to_exit(timeout=30)
            assert code == 1 and "address already in use" in output and "Traceback" not in output


def test_children_die_at_once_with_a_sigkilled_supervisor(storage: Path) -> None:
    with durable_gateway(storage, shutdown_timeout="30s") as setup:
        setup.collector.start()
        setup.sink.sink.fail(503)  # workers hold data: a graceful stop would take the whole timeout
        send_spans("http", setup.http_url, 200)
        children = list(setup.collector.children().values())
        assert len(children) >= 4
        assert setup.collector.process is not None
        setup.collector.process.kill()  # the supervisor alone
        setup.collector.process.wait()
        killed_at = time.monotonic()
        assert wait_until(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children),
                          timeout=5)
        print(f"children gone {time.monotonic() - killed_at:.2f}s after the supervisor")
        # A multi-threaded child shows as a zombie once its main thread has exited, while its other
        # threads still hold the shared file table (and the listening socket) for a moment.
        assert wait_until(lambda: not port_is_served(setup.http_port), timeout=5)
        setup.collector.process = None
        setup.sink.sink.recover()
        setup.collector.restart()
        assert wait_until(lambda: setup.sink.sink.items(Signal.TRACES) >= 200, timeout=60)


def test_rings_of_another_geometry_are_drained_and_released(storage: Path) -> None:
    with durable_gateway(storage, env={"COLLECTOR_TRACES_WORKERS": "2", "COLLECTOR_LOGS_WORKERS": "1"}) as setup:
        setup.collector.start()
        ident = instance_id(storage.resolve())
        setup.sink.sink.fail(503)
        for chunk in range(4):
            send_spans("http", setup.http_url, CHUNK, attributes={"b": chunk})
        assert wait_until(lambda: accepted(setup.collector)[0] == 4 * CHUNK, timeout=30)
        setup.collector.kill_tree()
        old = {n.name for n in find_rings(ident) if n.signal is Signal.TRACES}
        assert len(old) == 2
        setup.collector.env["COLLECTOR_TRACES_WORKERS"] = "1"  # the geometry changes across the restart
        setup.collector.restart()
        _, text = setup.collector.get("/api/v0/web/processes")
        setup.sink.sink.recover()
        assert wait_until(lambda: set(ids(setup.sink.sink, Signal.TRACES)) == set(range(4 * CHUNK)), timeout=60)
        assert wait_until(lambda: not old & {n.name for n in find_rings(ident)}, timeout=10)  # released
        rows = {row["key"]: row for row in json.loads(text)}
        draining = rows["worker traces/0"]["adoptedRings"]  # shown while they drain (the sink still refuses)
        assert {r["name"] for r in draining} == old and sum(r["records"] for r in draining) > 0
        assert "drained" in setup.collector.logs()


def test_adopted_records_of_a_removed_receiver_are_counted_as_dropped(storage: Path) -> None:
    with durable_gateway(storage) as setup:
        setup.collector.start()
        setup.sink.sink.fail(503)
        send_spans("http", setup.http_url, 300, attributes={"b": 0})
        assert wait_until(lambda: accepted(setup.collector)[0] == 300, timeout=30)
        setup.collector.kill_tree()
        config = setup.collector.config_path
        config.write_text(config.read_text().replace('otelcol.receiver.otlp "in"', 'otelcol.receiver.otlp "renamed"'))
        setup.sink.sink.recover()
        setup.collector.restart()
        assert wait_until(lambda: setup.collector.metric_value(
            "collector_dropped_spans_total", reason="receiver removed") == 300, timeout=30)
        assert "has no pipeline here" in setup.collector.logs()
        assert setup.sink.sink.items(Signal.TRACES) == 0
