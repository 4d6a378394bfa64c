"""Configuration reload without a restart: invalid files change nothing, valid ones lose nothing."""

from __future__ import annotations

import urllib.error
import urllib.request

from collector.signals import Signal
from collector.testing.sdk import send_spans, wait_until
from collector.testing.sink import OtlpSink, SinkThread
from tests.e2e.conftest import Gateway, gateway_config


def _rewrite(gateway: Gateway, sink_url: str, extra: str = "") -> None:
    config = gateway_config(grpc_port=gateway.grpc_port, http_port=gateway.http_port, sink_url=sink_url)
    gateway.collector.config_path.write_text(config + extra)


def test_invalid_file_is_refused_with_located_errors_and_pipelines_keep_delivering(gateway: Gateway) -> None:
    _rewrite(gateway, gateway.sink.url, extra='\notelcol.processor.batch "b2" {\n  timeout = true\n  output { }\n}\n')
    line = gateway.collector.config_path.read_text().splitlines().index("  timeout = true") + 1
    status, body = gateway.collector.reload()
    assert status == 400
    assert body.strip().endswith(f"config.alloy:{line}:13: expected string, got bool"), body
    send_spans("http", gateway.http_url, 50)
    assert wait_until(lambda: gateway.sink.sink.items(Signal.TRACES) >= 50)


def test_get_is_not_allowed_on_reload(gateway: Gateway) -> None:
    status, _ = gateway.collector.get("/-/reload")
    assert status == 405


def test_valid_change_moves_data_to_the_new_exporter_without_loss(gateway: Gateway) -> None:
    with SinkThread(OtlpSink()) as second:
        gateway.sink.sink.fail(503, seconds=1.5, retry_after="0")  # the old exporter holds data while we reload
        send_spans("http", gateway.http_url, 200)
        _rewrite(gateway, second.url)
        status, body = gateway.collector.reload()
        assert (status, body.strip()) == (200, "config reloaded")
        send_spans("grpc", gateway.grpc_endpoint, 300)
        assert wait_until(lambda: second.sink.items(Signal.TRACES) >= 300, timeout=60)
        # what the old exporter held was drained to the old backend; nothing was lost
        assert wait_until(lambda: gateway.sink.sink.items(Signal.TRACES) + second.sink.items(Signal.TRACES) >= 500,
                          timeout=60)
        assert gateway.sink.sink.items(Signal.TRACES) + second.sink.items(Signal.TRACES) == 500


def test_moved_port_is_released_and_rebound(gateway: Gateway) -> None:
    from collector.testing.process import free_port

    new_http = free_port()
    config = gateway_config(grpc_port=gateway.grpc_port, http_port=new_http, sink_url=gateway.sink.url)
    gateway.collector.config_path.write_text(config)
    assert gateway.collector.reload()[0] == 200
    send_spans("http", f"http://127.0.0.1:{new_http}", 40)
    assert wait_until(lambda: gateway.sink.sink.items(Signal.TRACES) >= 40)
    # the old port no longer answers
    try:
        urllib.request.urlopen(f"{gateway.http_url}/v1/traces", data=b"", timeout=5)
        old_port_open = True
    except urllib.error.HTTPError:
        old_port_open = True
    except (urllib.error.URLError, ConnectionError):
        old_port_open = False
    assert not old_port_open
