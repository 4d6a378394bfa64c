"""The load-balancing exporter in one process: located configuration errors, data held while no
backend is known and delivered once DNS names one, and a backend that leaves the ring gives its
data back to be routed again (nothing dropped, every ring record released)."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from collector.components.kit.api import Retirement
from collector.components.kit.exporterhelper.config import RetryArgs
from collector.components.otelcol.exporter.loadbalancing import Arguments, LoadBalancingExporter
from collector.config.diag import DiagnosticError, Sources
from collector.pipeline.loader import load_sources
from collector.selfmetrics.loadbalancer import REROUTED
from collector.signals import Payload, Signal
from collector.testing.context import build_context
from collector.testing.process import free_port
from tests.components.otelcol.exporter.loadbalancing.dnsstub import DnsStub
from tests.components.otelcol.exporter.test_otlp_grpc import GrpcBackend
from tests.components.otelcol.exporter.test_otlphttp import Tokens
from tests.signals import otlp_data as data

CONFIG = """
otelcol.exporter.loadbalancing "lb" {{
{body}
}}
"""
PROTOCOL = "  protocol {\n    otlp {\n      client {}\n    }\n  }\n"
STATIC = '  resolver {\n    static {\n      hostnames = ["127.0.0.1:4317"]\n    }\n  }\n'


@pytest.mark.parametrize(("body", "where", "message"), [
    ('  resolver {\n    kubernetes {\n      service = "lb"\n    }\n  }\n' + PROTOCOL, "4:5",
     "the kubernetes resolver is not supported"),
    ('  resolver {\n    static {\n      hostnames = ["a:1"]\n    }\n    dns {\n      hostname = "b"\n    }\n  }\n'
     + PROTOCOL, "7:5", "set one resolver"),
    ('  routing_key = "span"\n' + STATIC + PROTOCOL, "3:17", "invalid routing key"),
    ('  timeout = "1s"\n' + STATIC + PROTOCOL.replace("client {}", "client {}\n      queue {\n        enabled = false\n      }"),
     "3:13", "needs protocol > otlp > queue"),
    (STATIC + PROTOCOL + '  sending_queue {\n    queue_size = 10\n  }\n', "13:3", "a queue in front of the routing"),
    (STATIC + PROTOCOL.replace("client {}", 'client {\n        compression = "zstd"\n      }'), "11:23",
     "is not supported for gRPC"),
    ('  resolver {\n    static {\n      hostnames = ["http://a"]\n    }\n  }\n' + PROTOCOL, "5:19", "must be host:port"),
])
def test_configuration_errors_are_located(body: str, where: str, message: str) -> None:
    with pytest.raises(DiagnosticError) as info:
        load_sources(Sources({"lb.alloy": CONFIG.format(body=body).encode()}))
    rendered = info.value.render()
    assert f"lb.alloy:{where}: " in rendered and message in rendered, rendered


def test_metrics_keys_take_metrics_only() -> None:
    text = """
otelcol.receiver.otlp "in" {
  http {}
  output {
    traces = [otelcol.exporter.loadbalancing.lb.input]
  }
}
otelcol.exporter.loadbalancing "lb" {
  routing_key = "metric"
""" + STATIC + PROTOCOL + "}\n"
    with pytest.raises(DiagnosticError) as info:
        load_sources(Sources({"lb.alloy": text.encode()}))
    assert "does not accept traces" in info.value.render()


def arguments(resolver: dict[str, Any], **extra: Any) -> Arguments:
    args = msgspec.convert({"resolver": resolver, "protocol": {"otlp": {
        "timeout": 1.0, "client": {"tls": {"insecure": True}},
        "retry": {"initial_interval": 0.05, "max_interval": 0.2, "max_elapsed_time": 0.0}}}, **extra}, Arguments)
    args.validate()
    return args


def traces_payload(count: int, tokens: Tokens) -> Payload:
    rng = random.Random(count)
    request = data.traces([[count]])
    for span in request.resource_spans[0].scope_spans[0].spans:
        span.trace_id = rng.randbytes(16)
    return data.payload(Signal.TRACES, request, token=tokens.new())


async def until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


def test_data_waits_for_a_backend_and_goes_where_dns_points(tmp_path: Path) -> None:
    async def scenario(stub: DnsStub) -> None:
        backend = GrpcBackend([])
        await backend.start()
        stub.resolver.answer([])  # NXDOMAIN: no backend yet
        args = arguments({"dns": {"hostname": "tier2.example.test", "port": str(backend.port), "interval": 0.05}})

        class AskingTheStub(LoadBalancingExporter):
            lookup = staticmethod(stub.lookup)  # the DNS server of this test instead of the system's

        lb = AskingTheStub(build_context(AskingTheStub, "otelcol.exporter.loadbalancing.dns", storage_path=tmp_path),
                           args)
        await lb.start()
        tokens = Tokens()
        consuming = asyncio.create_task(lb.consume(traces_payload(50, tokens)))
        await asyncio.sleep(0.3)
        assert not consuming.done() and backend.items == 0  # held (backpressure), not dropped
        stub.resolver.answer(["127.0.0.1"])
        await consuming
        await until(lambda: backend.items == 50)
        assert lb.backends == (f"127.0.0.1:{backend.port}",)
        await until(tokens.all_once)
        await lb.shutdown(time.monotonic() + 5)
        await backend.server.stop(None)

    with DnsStub() as stub:
        asyncio.run(scenario(stub))


def test_a_removed_backend_gives_its_data_back(tmp_path: Path) -> None:
    """One backend never answers (nothing listens on its port): its share waits in its queue and in
    retries. When the resolver drops it, that share is routed to the remaining backend."""

    async def scenario() -> None:
        alive = GrpcBackend([])
        await alive.start()
        dead = f"127.0.0.1:{free_port()}"
        args = arguments({"static": {"hostnames": [f"127.0.0.1:{alive.port}", dead]}})
        lb = LoadBalancingExporter(build_context(LoadBalancingExporter, "otelcol.exporter.loadbalancing.rm",
                                                 storage_path=tmp_path), args)
        await lb.start()
        tokens = Tokens()
        for size in (40, 60, 80):
            await lb.consume(traces_payload(size, tokens))
        await until(lambda: alive.items > 0)
        assert alive.items < 180  # the dead backend's share is stuck
        rerouted_before = REROUTED.labels(lb.ctx.component_id, "traces")._value.get()
        await lb._apply([f"127.0.0.1:{alive.port}"])  # what a resolver does when the answer changes
        await until(lambda: alive.items == 180)
        await until(tokens.all_once)
        assert REROUTED.labels(lb.ctx.component_id, "traces")._value.get() > rerouted_before
        await lb.shutdown(time.monotonic() + 5)
        await alive.server.stop(None)

    asyncio.run(scenario())


def test_a_replaced_instance_hands_what_it_holds_to_its_successor(tmp_path: Path) -> None:
    async def scenario() -> None:
        dead = f"127.0.0.1:{free_port()}"
        old = LoadBalancingExporter(build_context(LoadBalancingExporter, "otelcol.exporter.loadbalancing.re",
                                                  storage_path=tmp_path), arguments({"static": {"hostnames": [dead]}}))
        await old.start()
        tokens = Tokens()
        await old.consume(traces_payload(30, tokens))
        alive = GrpcBackend([])
        await alive.start()
        new = LoadBalancingExporter(build_context(LoadBalancingExporter, "otelcol.exporter.loadbalancing.re",
                                                  storage_path=tmp_path),
                                    arguments({"static": {"hostnames": [f"127.0.0.1:{alive.port}"]}}))
        await new.start()
        old.retirement, old.successor = Retirement.REPLACED, new
        await old.shutdown(time.monotonic() + 0.5)
        await until(lambda: alive.items == 30)
        await until(tokens.all_once)
        await new.shutdown(time.monotonic() + 5)
        await alive.server.stop(None)

    asyncio.run(scenario())


def test_retry_arguments_of_the_backends_are_validated_under_their_own_names() -> None:
    with pytest.raises(Exception) as info:
        msgspec.convert({"resolver": {"static": {"hostnames": ["a:1"]}},
                         "protocol": {"otlp": {"client": {}, "retry": msgspec.to_builtins(
                             RetryArgs(initial_interval=0.0))}}}, Arguments).validate()
    assert getattr(info.value, "attribute", None) == "protocol.otlp.retry.initial_interval"


def test_client_auth_is_applied_on_every_backend_call(tmp_path: Path) -> None:
    from collector.components.kit.api import EvalContext
    from collector.components.kit.types import Secret
    from collector.components.otelcol.auth.bearer import Arguments as BearerArguments
    from collector.components.otelcol.auth.bearer import BearerAuth

    handler = BearerAuth.exports(EvalContext("otelcol.auth.bearer.b"), BearerArguments(token=Secret("tok"))).handler

    async def scenario() -> list[dict[str, Any]]:
        backend = GrpcBackend([])
        await backend.start()
        args = msgspec.convert({"resolver": {"static": {"hostnames": [f"127.0.0.1:{backend.port}"]}},
                                "protocol": {"otlp": {"client": {"tls": {"insecure": True}, "auth": handler,
                                                                 "headers": {"X-Tier": "first"}}}}}, Arguments)
        args.validate()
        lb = LoadBalancingExporter(build_context(LoadBalancingExporter, "otelcol.exporter.loadbalancing.auth",
                                                 storage_path=tmp_path), args)
        await lb.start()
        tokens = Tokens()
        await lb.consume(traces_payload(10, tokens))
        await until(tokens.all_once)
        await lb.shutdown(time.monotonic() + 5)
        await backend.server.stop(None)
        return backend.metadata

    [metadata] = asyncio.run(scenario())
    assert metadata["authorization"] == "Bearer tok" and metadata["x-tier"] == "first"


@pytest.mark.parametrize(("routing_key", "signal"), [
    ("traceID", Signal.LOGS), ("service", Signal.LOGS), ("service", Signal.METRICS), ("resource", Signal.METRICS),
    ("metric", Signal.METRICS), ("streamID", Signal.METRICS),
])
def test_every_key_delivers_every_item_once(tmp_path: Path, routing_key: str, signal: Signal) -> None:
    request = (data.logs([[5, 3], [4], [6]]) if signal is Signal.LOGS
               else data.metrics([[[2, 3], [4]], [[1, 1, 2]], [[3]]]))
    expected = signal.spec.count_items(request)

    async def scenario() -> list[int]:
        backends = [GrpcBackend([]) for _ in range(3)]
        for backend in backends:
            await backend.start()
        args = arguments({"static": {"hostnames": [f"127.0.0.1:{b.port}" for b in backends]}}, routing_key=routing_key)
        lb = LoadBalancingExporter(build_context(LoadBalancingExporter, f"otelcol.exporter.loadbalancing.{routing_key}",
                                                 storage_path=tmp_path), args)
        await lb.start()
        tokens = Tokens()
        for _ in range(4):
            await lb.consume(data.payload(signal, request, token=tokens.new()))
        await until(lambda: sum(b.items for b in backends) >= 4 * expected)
        await until(tokens.all_once)
        await lb.shutdown(time.monotonic() + 5)
        for backend in backends:
            await backend.server.stop(None)
        return [b.items for b in backends]

    counts = asyncio.run(scenario())
    assert sum(counts) == 4 * expected
    if routing_key in ("metric", "streamID"):  # many keys (6 names, 17 series): they spread
        assert sum(1 for c in counts if c) > 1


def test_timeout_routes_a_waiting_part_again_once_its_backend_left(tmp_path: Path) -> None:
    """`timeout` bounds the wait for room in a backend's queue; the part is then routed over the
    current ring: while its backend is in the ring it waits again (never split off elsewhere), and
    once the backend is gone it goes to the one that owns its keys now."""

    async def scenario() -> None:
        alive = GrpcBackend([])
        await alive.start()
        dead = f"127.0.0.1:{free_port()}"
        args = arguments({"static": {"hostnames": [dead]}}, timeout=0.1)
        args = msgspec.structs.replace(args, protocol=msgspec.structs.replace(args.protocol, otlp=msgspec.structs.replace(
            args.protocol.otlp, queue=msgspec.structs.replace(args.protocol.otlp.queue, queue_size=1, num_consumers=1))))
        lb = LoadBalancingExporter(build_context(LoadBalancingExporter, "otelcol.exporter.loadbalancing.timeout",
                                                 storage_path=tmp_path), args)
        await lb.start()
        tokens = Tokens()
        await lb.consume(traces_payload(5, tokens))  # taken by the only sender, retrying
        await lb.consume(traces_payload(6, tokens))  # fills the queue (size 1)
        blocked = asyncio.create_task(lb.consume(traces_payload(7, tokens)))
        await asyncio.sleep(0.5)  # several timeouts pass: it keeps waiting for the same backend
        assert not blocked.done() and alive.items == 0
        await lb._apply([f"127.0.0.1:{alive.port}"])
        await blocked
        await until(lambda: alive.items == 18)
        await until(tokens.all_once)
        await lb.shutdown(time.monotonic() + 5)
        await alive.server.stop(None)

    asyncio.run(scenario())


def test_the_ring_membership_gauge_survives_a_replacement(tmp_path: Path) -> None:
    """A reload starts the new instance before the old one stops, in the same process: the old one's
    shutdown must not erase the backends the new one reports (the UI lists them from this gauge)."""
    from collector.selfmetrics.loadbalancer import BACKEND_MEMBER

    component_id = "otelcol.exporter.loadbalancing.gauge"
    endpoint = f"127.0.0.1:{free_port()}"

    async def scenario() -> list[float]:
        seen = []
        args = arguments({"static": {"hostnames": [endpoint]}})
        old = LoadBalancingExporter(build_context(LoadBalancingExporter, component_id, storage_path=tmp_path), args)
        await old.start()
        seen.append(BACKEND_MEMBER.labels(component_id, endpoint)._value.get())
        new = LoadBalancingExporter(build_context(LoadBalancingExporter, component_id, storage_path=tmp_path), args)
        await new.start()
        await old.shutdown(time.monotonic() + 1)
        seen.append(BACKEND_MEMBER.labels(component_id, endpoint)._value.get())
        await new.shutdown(time.monotonic() + 1)
        seen.append(BACKEND_MEMBER.labels(component_id, endpoint)._value.get())
        return seen

    assert asyncio.run(scenario()) == [1, 1, 0]
