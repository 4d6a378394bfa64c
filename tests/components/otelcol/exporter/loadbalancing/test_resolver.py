"""Resolvers: the DNS resolver follows a changing answer from a real DNS server (a stub on
loopback), keeps its backends through failures and reports them; the static resolver reports once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from collector.components.otelcol.exporter.loadbalancing.resolver import (
    DNSResolver,
    StaticResolver,
    endpoint,
    system_lookup,
    with_default_port,
)
from collector.selfmetrics.loadbalancer import RESOLUTIONS
from tests.components.otelcol.exporter.loadbalancing.dnsstub import DnsStub

LOGGER = logging.getLogger("test")


def counted(component_id: str, success: str) -> float:
    return RESOLUTIONS.labels(component_id, "dns", success)._value.get()


def test_dns_resolver_follows_a_changing_answer() -> None:
    changes: list[list[str]] = []
    errors: list[str | None] = []

    async def on_change(endpoints: list[str]) -> None:
        changes.append(endpoints)

    async def scenario(stub: DnsStub) -> None:
        resolver = DNSResolver("lb.dns-test", "backends.example.test", "4317", 0.05, 1.0, on_change,
                               errors.append, LOGGER, lookup=stub.lookup)
        stub.resolver.answer(["127.0.0.1"])
        await resolver.start()
        assert changes == [["127.0.0.1:4317"]]
        stub.resolver.answer(["127.0.0.2", "127.0.0.1"])
        await wait_for(lambda: len(changes) == 2)
        assert changes[1] == ["127.0.0.1:4317", "127.0.0.2:4317"]

        stub.resolver.answer([], failing=True)  # the server fails: backends are kept, the error reported
        await wait_for(lambda: bool(errors))
        assert errors[0] is not None and "backends.example.test" in errors[0]
        assert len(changes) == 2

        stub.resolver.answer(["127.0.0.2"])  # answering again: the error clears, the change applies
        await wait_for(lambda: len(changes) == 3)
        assert changes[2] == ["127.0.0.2:4317"] and errors[-1] is None
        await resolver.shutdown()

    failures_before = counted("lb.dns-test", "false")
    with DnsStub() as stub:
        asyncio.run(scenario(stub))
        assert stub.resolver.queries >= 4
    assert counted("lb.dns-test", "false") > failures_before
    assert counted("lb.dns-test", "true") >= 3


def test_a_lookup_that_outlasts_its_timeout_is_a_failure() -> None:
    errors: list[str | None] = []

    async def slow(hostname: str) -> list[str]:
        await asyncio.sleep(5)
        return ["127.0.0.1"]

    async def ignore(endpoints: list[str]) -> None:
        raise AssertionError("no answer, no change")

    async def scenario() -> None:
        resolver = DNSResolver("lb.dns-slow", "slow.test", "4317", 60.0, 0.05, ignore, errors.append, LOGGER,
                               lookup=slow)
        await resolver.start()
        await resolver.shutdown()

    asyncio.run(scenario())
    assert errors and errors[0] is not None and "slow.test" in errors[0]


def test_the_system_lookup_resolves_an_address_literal() -> None:
    assert asyncio.run(system_lookup("127.0.0.1")) == ["127.0.0.1"]


def test_ipv6_endpoints_are_bracketed() -> None:
    assert endpoint("::1", "4317") == "[::1]:4317"
    assert endpoint("10.1.2.3", "4317") == "10.1.2.3:4317"


def test_static_resolver_reports_its_sorted_list_once() -> None:
    seen: list[list[str]] = []

    async def on_change(endpoints: list[str]) -> None:
        seen.append(endpoints)

    async def scenario() -> None:
        resolver = StaticResolver("lb.static-test", ["b:4317", "a:4317", "b:4317"], on_change)
        await resolver.start()
        await resolver.shutdown()

    asyncio.run(scenario())
    assert seen == [["a:4317", "b:4317"]]


async def wait_for(predicate: object, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(("hostname", "expected"), [
    ("tier2-0", "tier2-0:4317"), ("tier2-0:5317", "tier2-0:5317"), ("10.0.0.1", "10.0.0.1:4317"),
    ("[::1]", "[::1]:4317"), ("[::1]:5317", "[::1]:5317"), ("fd00::1", "[fd00::1]:4317"),
])
def test_static_backends_default_to_port_4317(hostname: str, expected: str) -> None:
    assert with_default_port(hostname) == expected
