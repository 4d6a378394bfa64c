"""CORS for the OTLP/HTTP receiver (browser SDKs), following the rs/cors rules the Go collector uses:
origins may contain one `*` wildcard; a preflight (OPTIONS with Access-Control-Request-Method) is
answered 204 with the allowed headers; actual responses carry Access-Control-Allow-Origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["CorsPolicy"]


@dataclass(frozen=True)
class CorsPolicy:
    allowed_origins: tuple[str, ...] = ()
    allowed_headers: tuple[str, ...] = ("X-Requested-With",)
    exposed_headers: tuple[str, ...] = ()
    max_age: int = 0
    _always_headers: tuple[str, ...] = field(default=("content-type", "content-encoding", "accept", "origin"),
                                             init=False)

    def origin_allowed(self, origin: str) -> bool:
        for pattern in self.allowed_origins:
            if pattern == "*" or pattern == origin:
                return True
            if "*" in pattern:
                prefix, _, suffix = pattern.partition("*")
                if len(origin) >= len(prefix) + len(suffix) and origin.startswith(prefix) and origin.endswith(suffix):
                    return True
        return False

    def preflight(self, headers: Mapping[str, str]) -> tuple[int, tuple[tuple[str, str], ...]]:
        origin = headers.get("Origin", "")
        method = headers.get("Access-Control-Request-Method", "").upper()
        if not origin or not self.origin_allowed(origin) or method != "POST":
            return 204, (("Vary", "Origin"),)
        requested = [h.strip() for h in headers.get("Access-Control-Request-Headers", "").split(",") if h.strip()]
        allowed = {h.lower() for h in self.allowed_headers} | set(self._always_headers)
        if "*" not in self.allowed_headers and any(h.lower() not in allowed for h in requested):
            return 204, (("Vary", "Origin"),)
        out = [("Vary", "Origin"), ("Access-Control-Allow-Origin", origin), ("Access-Control-Allow-Methods", "POST")]
        if requested:
            out.append(("Access-Control-Allow-Headers", ", ".join(requested)))
        if self.max_age > 0:
            out.append(("Access-Control-Max-Age", str(self.max_age)))
        return 204, tuple(out)

    def response_headers(self, headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        origin = headers.get("Origin", "")
        if not origin or not self.origin_allowed(origin):
            return ()
        out = [("Vary", "Origin"), ("Access-Control-Allow-Origin", origin)]
        if self.exposed_headers:
            out.append(("Access-Control-Expose-Headers", ", ".join(self.exposed_headers)))
        return tuple(out)
