"""Small-host mode (COLLECTOR_WORKERS_MODE=inline): one process, same delivery, reload and counters."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from collector.signals import Signal
from collector.testing.sdk import send_logs, send_metrics, send_spans, wait_until
from collector.testing.sink import OtlpSink, SinkThread
from tests.e2e.conftest import Gateway, gateway_config, start_gateway

INLINE = {"COLLECTOR_WORKERS_MODE": "inline"}


@pytest.fixture
def inline_gateway() -> Iterator[Gateway]:
    with start_gateway(env=INLINE) as gw:
        yield gw


def _reload(gateway: Gateway) -> tuple[int, str]:
    request = urllib.request.Request(gateway.collector.admin_url + "/-/reload", data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_one_process_runs_every_part(inline_gateway: Gateway) -> None:
    assert inline_gateway.collector.children() == {}
    status, body = inline_gateway.collector.get("/api/v0/web/processes")
    assert status == 200
    rows = {row["key"]: row for row in json.loads(body)}
    supervisor_pid = rows["supervisor"]["pid"]
    assert {"receiver/0", "worker traces/0", "worker metrics/0", "worker logs/0"} <= rows.keys()
    assert {row["pid"] for row in rows.values()} == {supervisor_pid}
    assert all(row["running"] for row in rows.values())


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_sdk_traces_logs_and_metrics_arrive(inline_gateway: Gateway, protocol: str) -> None:
    endpoint = inline_gateway.grpc_endpoint if protocol == "grpc" else inline_gateway.http_url
    sink = inline_gateway.sink.sink
    send_spans(protocol, endpoint, 300, resource={"service.name": "checkout"})  # type: ignore[arg-type]
    send_logs(protocol, endpoint, 120, attributes={"user": "ada"})  # type: ignore[arg-type]
    send_metrics(protocol, endpoint, attributes={"route": "/"})  # type: ignore[arg-type]
    assert wait_until(lambda: sink.items(Signal.TRACES) >= 300)
    assert wait_until(lambda: sink.items(Signal.LOGS) >= 120)
    assert wait_until(lambda: sink.items(Signal.METRICS) >= 4)  # counter, up-down counter, histogram, gauge
    assert (sink.items(Signal.TRACES), sink.items(Signal.LOGS), sink.items(Signal.METRICS)) == (300, 120, 4)
    # the components' counters are the process's own here, and /metrics still shows them
    collector = inline_gateway.collector
    assert collector.metric_value("otelcol_receiver_accepted_spans_total", transport=protocol) == 300
    assert wait_until(lambda: collector.metric_value("otelcol_exporter_sent_log_records_total") == 120)


def test_gauges_of_a_component_in_several_parts_add_up(inline_gateway: Gateway) -> None:
    # the exporter runs in the traces, metrics and logs workers: its queue capacity (1000 batches each,
    # merged as `livesum`) is the three together, as with three worker processes
    collector, exporter = inline_gateway.collector, "otelcol.exporter.otlphttp.out"
    assert wait_until(lambda: collector.metric_value("otelcol_exporter_queue_capacity", component_id=exporter) == 3000)


def test_reload_moves_data_to_the_new_exporter_without_loss(inline_gateway: Gateway) -> None:
    gateway = inline_gateway
    with SinkThread(OtlpSink()) as second:
        gateway.sink.sink.fail(503, seconds=1.5, retry_after="0")  # the old exporter holds data while we reload
        send_spans("http", gateway.http_url, 200)
        config = gateway_config(grpc_port=gateway.grpc_port, http_port=gateway.http_port, sink_url=second.url)
        gateway.collector.config_path.write_text(config)
        status, body = _reload(gateway)
        assert (status, body.strip()) == (200, "config reloaded")
        send_spans("grpc", gateway.grpc_endpoint, 300)
        assert wait_until(lambda: second.sink.items(Signal.TRACES) >= 300, timeout=60)
        total = lambda: gateway.sink.sink.items(Signal.TRACES) + second.sink.items(Signal.TRACES)  # noqa: E731
        assert wait_until(lambda: total() >= 500, timeout=60)
        assert total() == 500


def test_invalid_reload_changes_nothing(inline_gateway: Gateway) -> None:
    gateway = inline_gateway
    path = gateway.collector.config_path
    path.write_text(path.read_text() + '\notelcol.processor.batch "b2" {\n  timeout = true\n  output { }\n}\n')
    status, body = _reload(gateway)
    assert status == 400 and "expected string, got bool" in body
    send_spans("http", gateway.http_url, 50)
    assert wait_until(lambda: gateway.sink.sink.items(Signal.TRACES) >= 50)


def test_worker_counts_other_than_one_are_refused() -> None:
    from collector.testing.process import CollectorProcess

    with SinkThread(OtlpSink()) as sink:
        from collector.testing.process import free_port

        config = gateway_config(http_port=free_port(), sink_url=sink.url)
        process = CollectorProcess(config, env={**INLINE, "COLLECTOR_TRACES_WORKERS": "2"})
        code, output = process.run_to_exit()
    assert code == 1
    assert "COLLECTOR_TRACES_WORKERS='2': must be at most 1 with COLLECTOR_WORKERS_MODE=inline" in output


def test_sigkill_during_an_outage_loses_nothing_after_a_restart(tmp_path: Path) -> None:
    # a success answer means the data is in a ring, as in the default mode: the rings outlive the one
    # process, and the next start adopts and delivers them
    from tests.e2e.test_durability import all_arrived, buffer_during_outage, durable_gateway

    with durable_gateway(tmp_path / "data", env=INLINE) as setup:
        setup.collector.start()
        buffer_during_outage(setup)
        assert len(setup.collector.kill_tree()) == 1  # the whole collector was one process
        setup.sink.sink.recover()
        setup.collector.restart()
        assert wait_until(lambda: all_arrived(setup.sink.sink), timeout=90)
        assert setup.collector.metric_value("collector_ring_adopted_records_total", signal="traces") > 0


def test_sigterm_drains_and_exits_0(inline_gateway: Gateway) -> None:
    send_spans("http", inline_gateway.http_url, 100)
    assert wait_until(lambda: inline_gateway.sink.sink.items(Signal.TRACES) >= 100)
    assert inline_gateway.collector.stop() == 0
    log = inline_gateway.collector.logs()
    assert "collector stopped" in log and "Traceback" not in log and "failed" not in log
    # each line names the part that logged it, as if it were its own process
    assert 'msg="worker started with' in log and 'proc="worker traces/0"' in log and "proc=receiver/0" in log
