"""Limits the OTLP/gRPC server applies to every connection, against HTTP/2 abuse.

Why. A client may open a stream and cancel it at once (HEADERS then RST_STREAM), thousands of times
a second, without ever being over a concurrency limit (CVE-2023-44487, "rapid reset"): every stream
still costs the server a call (in grpc.aio a Python task; in the C-core engine, grpc_core.py,
three queue events, so the same flood costs the receiver about half the CPU: 17% of a core against
38%). The probe's 671,000 of them in 30 s over two connections held the receiver at 100% CPU and
valid calls waited 70x longer. gRPC core has the defences, mostly off until asked for:

* `grpc.max_concurrent_streams` (Alloy's `max_concurrent_streams`; our default when it is 0):
  with core's overload protection (on by default) a stream counts until its resources are freed,
  not until it is reset, so a resetting client runs out of streams and further HEADERS are
  refused (RST_STREAM REFUSED_STREAM) without creating a call.
  The limit also bounds how many reset streams are in flight inside the server at once, and that
  is what valid calls wait behind: measured with `python -m bench.rapid_reset` (about 25,000
  resets/s over two connections, 2-core box), the p99 of valid calls under the flood was 9.7x its
  quiet value at 100 streams, 4.7x at 32, 3.0-3.7x at 16 and 3.5x at 8, and the receiver's CPU
  fell from 80% to 52% of a core. 16 is still above what OTLP clients open on one connection (an
  OpenTelemetry SDK exporter sends one call at a time; the Collector's and Alloy's exporters 10,
  their `sending_queue` consumers); a client that wants more waits for a free stream, as HTTP/2
  clients do, and `max_concurrent_streams` raises it.
* `grpc.http2.max_requests_per_read`: at most this many new streams are taken from one read of
  the socket before the transport yields, so one connection cannot monopolise the server's loop.
* `grpc.http2.max_ping_strikes` / `grpc.http2.min_ping_interval_without_data_ms`: a ping flood
  gets GOAWAY (Alloy's keepalive `enforcement_policy` maps onto the latter).
* `grpc.max_connection_age_ms` / `..._grace_ms` / `grpc.max_connection_idle_ms`: Alloy's keepalive
  `server_parameters`; applied only when configured (Go's defaults are infinite).

Defaults are applied first, so anything the configuration sets (`options`) overrides them.
"""

from __future__ import annotations

from typing import Any, Final, Sequence

__all__ = ["DEFAULT_MAX_CONCURRENT_STREAMS", "HARDENING", "server_options"]

DEFAULT_MAX_CONCURRENT_STREAMS: Final = 16  # per connection: see the module docstring for why not 100
HARDENING: Final[tuple[tuple[str, Any], ...]] = (
    ("grpc.http2.max_requests_per_read", 8),
    ("grpc.http2.max_ping_strikes", 2),
)


def server_options(max_concurrent_streams: int, configured: Sequence[tuple[str, Any]] = ()) -> list[tuple[str, Any]]:
    """Core channel arguments for the gRPC server (either engine): the hardening defaults, the stream limit (Alloy's
    `max_concurrent_streams`, or ours when it is 0 = unset), then what the configuration set."""
    streams = max_concurrent_streams if max_concurrent_streams > 0 else DEFAULT_MAX_CONCURRENT_STREAMS
    return [*HARDENING, ("grpc.max_concurrent_streams", streams), *configured]
