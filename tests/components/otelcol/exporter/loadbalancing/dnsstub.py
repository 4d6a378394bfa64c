"""A DNS server on 127.0.0.1 whose answer a test changes (dnslib), and a lookup that asks it.

The exporter's production lookup is the system resolver (getaddrinfo), which cannot be pointed at
another port; the tests hand the DNS resolver this lookup instead, so a real DNS exchange over UDP
happens and the answer can change between two polls."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

from dnslib import QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSServer


class StubResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.failing = False  # answer SERVFAIL
        self.queries = 0
        self._lock = threading.Lock()

    def answer(self, addresses: list[str], failing: bool = False) -> None:
        with self._lock:
            self.addresses, self.failing = list(addresses), failing

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        with self._lock:
            self.queries += 1
            if self.failing:
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            if not self.addresses:
                reply.header.rcode = RCODE.NXDOMAIN
            for address in self.addresses:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=1))
        return reply


class DnsStub:
    def __init__(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.resolver = StubResolver()
        self.server = DNSServer(self.resolver, address="127.0.0.1", port=self.port)

    def __enter__(self) -> DnsStub:
        self.server.start_thread()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.stop()
        self.server.server.server_close()

    async def lookup(self, hostname: str) -> list[str]:
        """A records of `hostname` from the stub; a SERVFAIL is an OSError, as getaddrinfo's is."""
        raw = await asyncio.to_thread(DNSRecord.question(hostname, "A").send, "127.0.0.1", self.port, False, 2.0)
        reply = DNSRecord.parse(raw)
        if reply.header.rcode == RCODE.SERVFAIL:
            raise OSError(f"server failure resolving {hostname}")
        return [str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A]
