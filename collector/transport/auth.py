"""Receiver-side authentication of one listener: judge, count and log, before any body is read.

Both shells call `AuthGate.check` as the first step of a request (HTTP: after a CORS preflight,
which carries no credentials by design; gRPC: from the call's metadata, before the message is
asked for: `grpc_otlp_core.py` on the C-core engine, a stream-unary handler in `grpc_server.py` on
grpc.aio), so a request without valid credentials costs a header lookup and is answered without
its body ever being read, decompressed or decoded: a compression bomb sent without credentials
costs nothing.

A refusal is counted (`otelcol_receiver_refused_requests{reason="unauthenticated: ..."}` and
`otelcol_receiver_requests{outcome="refused"}`) and logged at WARNING at most once per `interval`
per client address (a client retrying with a wrong password would otherwise write a line per
request). The log names the component, transport, client address and the authenticator's reason,
never the credentials: `AuthOutcome` does not carry them.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Callable, Final, Mapping

from collector.components.kit.auth import AuthHandler, AuthOutcome
from collector.selfmetrics.otelcol import RECEIVER_REFUSED_REQUESTS, RECEIVER_REQUESTS

__all__ = ["AuthGate", "client_address"]

LOG_INTERVAL: Final = 60.0
REMEMBERED_ADDRESSES: Final = 10_000  # bound on the per-address log memory


def client_address(peer: str) -> str:
    """The host part of a peer: aiohttp gives "10.0.0.1", grpc "ipv4:10.0.0.1:5123" or
    "ipv6:[::1]:5123"; the port changes per connection and must not defeat the rate limit."""
    for prefix in ("ipv4:", "ipv6:"):
        if peer.startswith(prefix):
            host = peer[len(prefix):].rpartition(":")[0]
            return host.strip("[]")
    return peer


class AuthGate:
    def __init__(self, handler: AuthHandler, component_id: str, transport: str, logger: logging.Logger,
                 *, interval: float = LOG_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.handler = handler
        self.component_id = component_id
        self.transport = transport
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._labels = (component_id, "/", transport)
        self._refused_requests = RECEIVER_REQUESTS.labels(*self._labels, "refused")
        self._logged: OrderedDict[str, float] = OrderedDict()  # client address -> when it was last logged
        self.refusals = 0

    async def check(self, headers: Mapping[str, str], peer: str) -> AuthOutcome:
        """The authenticator's verdict on a request's headers; a refusal is counted and logged."""
        try:
            outcome = await self.handler.authenticate(headers)
        except Exception:  # noqa: BLE001 - an authenticator bug must refuse, never let a request in
            self.logger.exception("%s: authenticator %s failed; request refused", self.component_id, self.handler)
            outcome = AuthOutcome(False, "authenticator error")
        if not outcome.ok:
            self._refuse(outcome, client_address(peer))
        return outcome

    def _refuse(self, outcome: AuthOutcome, address: str) -> None:
        self.refusals += 1
        self._refused_requests.inc()
        RECEIVER_REFUSED_REQUESTS.labels(*self._labels, f"unauthenticated: {outcome.reason}").inc()
        now = self.clock()
        last = self._logged.get(address)
        if last is not None and now - last < self.interval:
            return
        self._logged[address] = now
        self._logged.move_to_end(address)
        while len(self._logged) > REMEMBERED_ADDRESSES:
            self._logged.popitem(last=False)
        self.logger.warning("%s refused an unauthenticated %s request from %s: %s (further refusals of this "
                            "address within %gs are only counted in otelcol_receiver_refused_requests)",
                            self.component_id, self.transport, address or "an unknown address", outcome.reason,
                            self.interval)
