"""Where the backends come from: a static list, or a DNS name resolved every `interval`.

A resolver only reports the sorted endpoint list when it changes (`on_change`); the exporter owns
the ring and the backends. The DNS resolver asks the system resolver (`getaddrinfo`: /etc/hosts,
then the nameservers of resolv.conf, as Go's resolver does for a headless Kubernetes service), one
`host:port` per address, IPv6 in brackets. A failed or timed-out lookup keeps the current backends
(a DNS hiccup must not empty the ring and stall the pipeline), is counted
(`otelcol_loadbalancer_num_resolutions{success="false"}`) and makes the component unhealthy until a
lookup succeeds again. `lookup` is a parameter so tests can play a DNS server whose answer changes.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Awaitable, Callable, Sequence

from collector.components.kit.tasks import cancel_and_wait
from collector.selfmetrics.loadbalancer import RESOLUTIONS

Lookup = Callable[[str], Awaitable[Sequence[str]]]
OnChange = Callable[[list[str]], Awaitable[None]]
OnError = Callable[[str | None], None]  # an error message, or None once lookups succeed again


async def system_lookup(hostname: str) -> list[str]:
    """Every address `hostname` resolves to (IPv4 and IPv6), as the system resolver answers."""
    infos = await asyncio.get_running_loop().getaddrinfo(hostname, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


DEFAULT_PORT = "4317"


def endpoint(address: str, port: str) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def with_default_port(hostname: str) -> str:
    """A static backend without a port gets OTLP/gRPC's 4317, as the OpenTelemetry Collector does."""
    if hostname.startswith("["):  # [v6] or [v6]:port
        closing = hostname.find("]")
        rest = hostname[closing + 1:]
        if rest[:1] == ":" and rest[1:].isdigit():
            return hostname
        return f"{hostname[:closing + 1]}:{DEFAULT_PORT}"
    colons = hostname.count(":")
    if colons == 1 and hostname.rsplit(":", 1)[1].isdigit():
        return hostname
    if colons > 1:  # a bare IPv6 address
        return endpoint(hostname, DEFAULT_PORT)
    return f"{hostname}:{DEFAULT_PORT}"


class StaticResolver:
    def __init__(self, component_id: str, hostnames: Sequence[str], on_change: OnChange) -> None:
        self.component_id = component_id
        self.hostnames = sorted({with_default_port(hostname) for hostname in hostnames})
        self.on_change = on_change

    async def start(self) -> None:
        RESOLUTIONS.labels(self.component_id, "static", "true").inc()
        await self.on_change(list(self.hostnames))

    async def shutdown(self) -> None:
        return None


class DNSResolver:
    def __init__(self, component_id: str, hostname: str, port: str, interval: float, timeout: float,
                 on_change: OnChange, on_error: OnError, logger: logging.Logger,
                 lookup: Lookup = system_lookup) -> None:
        self.component_id = component_id
        self.hostname = hostname
        self.port = port
        self.interval = interval
        self.timeout = timeout
        self.on_change = on_change
        self.on_error = on_error
        self.logger = logger
        self.lookup = lookup
        self.current: list[str] | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    async def start(self) -> None:
        await self.resolve()  # the first answer before data flows, when the name resolves
        self._task = asyncio.create_task(self._poll(), name=f"{self.component_id} dns resolver")

    async def shutdown(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.resolve()

    async def resolve(self) -> None:
        """One lookup; report the endpoints if they changed, or the error (keeping the backends)."""
        try:
            if self.timeout > 0:
                addresses = await asyncio.wait_for(self.lookup(self.hostname), self.timeout)
            else:
                addresses = await self.lookup(self.hostname)
        except (OSError, asyncio.TimeoutError, UnicodeError) as error:
            RESOLUTIONS.labels(self.component_id, "dns", "false").inc()
            message = f"DNS lookup of {self.hostname!r} failed: {error or type(error).__name__}"
            if not self._failing:  # one line per outage, not one per interval
                self.logger.warning("%s; keeping the current backends. component_id=%s", message, self.component_id)
            self._failing = True
            self.on_error(message)
            return
        RESOLUTIONS.labels(self.component_id, "dns", "true").inc()
        if self._failing:
            self._failing = False
            self.on_error(None)
        endpoints = sorted({endpoint(address, self.port) for address in addresses})
        if endpoints != self.current:
            self.current = endpoints
            await self.on_change(endpoints)
