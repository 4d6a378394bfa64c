"""A unary-call gRPC server driven straight from grpcio's C-core completion queue, in one thread.

Why. At full load over OTLP/gRPC (100 spans per call) the receiver spent about 80% of its samples in
grpc.aio's machinery, not in our handler: per call a Python task, a servicer context, an awaited
future per batch operation, and the poller thread waking the event loop for each event. The C-core
underneath does the HTTP/2 work, gzip, message size limits, keepalive, TLS and stream limits; what
a unary OTLP Export needs from Python on top of it is three completion-queue events, handled here
with no task, no context object and no thread pool (`bench/grpc_server_cost.py` measures the
difference):

1. `request_call` completes: the method, the client metadata and the peer are known. A new
   `request_call` is posted at once. An unknown method is answered UNIMPLEMENTED in one batch.
   The `CoreHandler` may answer now (authentication: before the message is read), or later from
   any thread (an asynchronous authenticator), or ask for the message.
2. The receive-message batch completes with the message bytes: the C-core has already inflated
   gzip and enforced `grpc.max_receive_message_length` (RESOURCE_EXHAUSTED, sent by the core).
3. `CoreCall.finish` sends one batch: initial metadata, the response (on success), the status with
   its trailers, and receive-close. Its completion releases the call.

INTERNAL API. This relies on `grpc._cython.cygrpc` (Server, CompletionQueue, Call and the batch
operation classes), the private Cython layer grpcio's own servers are built on, not grpcio's public
API. pyproject.toml bounds grpcio to `TESTED_GRPCIO` (written and tested against 1.85), and
`available()` checks both the installed version and that the names exist: `grpc_server` falls back
to grpc.aio when they do not (or when `COLLECTOR_GRPC_SERVER=aio`).

Connections. By default grpcio reads and writes the sockets of accepted connections on its
EventEngine threads, which then wake the thread polling the completion queue: at light load, where
every call arrives alone, that is several thread wake-ups per call, about a quarter of the server's
CPU per call (`python -m bench.grpc_server_cost --rate 100`). With grpcio's `event_engine_listener`
experiment turned off, accepted connections are polled by the thread that polls the completion
queue, so a call's reads, its events and its answer mostly happen on one thread; full-load
throughput is no worse. The switch is the `GRPC_EXPERIMENTS` variable, read once when grpc loads:
this module sets it on import (`grpc_server` imports it before grpc), unless the operator set it
or the grpc.aio server was asked for (the experiment exists throughout the grpcio range
pyproject.toml allows). Where grpc was loaded first (the small-host mode, when a gRPC exporter
loaded it) the default stays, which is correct, only dearer.

Threads. The serving thread polls the completion queue with the GIL released and runs the
handler's synchronous steps (for OTLP: decode, admission and the answer, `grpc_otlp_core`).
Starting a batch is thread-safe in the C-core, so `finish` may be called from the event loop. A
call counts as outstanding from its arrival until its final batch has completed; the queue is only
shut down once the server's shutdown has been notified and nothing is outstanding, because starting
a batch on a shut-down queue aborts the process.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import threading
import time
from typing import Any, Callable, Final, Protocol, Sequence

__all__ = ["CoreCall", "CoreHandler", "CoreServer", "available"]

EXPERIMENTS_VARIABLE: Final = "GRPC_EXPERIMENTS"
POLLED_CONNECTIONS: Final = "-event_engine_listener"
TESTED_GRPCIO: Final = ((1, 60), (1, 90))  # [from, below): keep in step with pyproject.toml


def _prefer_polled_connections() -> None:
    """Set GRPC_EXPERIMENTS (see "Connections" in the module docstring) while grpc is not loaded yet:
    the C-core reads it once, when grpc loads. An operator's own GRPC_EXPERIMENTS is left alone, and
    so is a process that serves with grpc.aio."""
    if "grpc" in sys.modules or EXPERIMENTS_VARIABLE in os.environ:
        return
    if os.environ.get("COLLECTOR_GRPC_SERVER", "core").strip().lower() != "aio":  # grpc_server.ENGINE_VARIABLE
        os.environ[EXPERIMENTS_VARIABLE] = POLLED_CONNECTIONS


_prefer_polled_connections()

_cygrpc: Any
try:  # the private layer: see the module docstring
    from grpc._cython import cygrpc as _cygrpc  # type: ignore[attr-defined,no-redef]
except ImportError:  # pragma: no cover - depends on the installed grpcio
    _cygrpc = None

_NEEDED: Final = ("Server", "CompletionQueue", "CompletionType", "StatusCode", "SendInitialMetadataOperation",
                  "ReceiveMessageOperation", "SendMessageOperation", "SendStatusFromServerOperation",
                  "ReceiveCloseOnServerOperation")
POLL_PERIOD: Final = 1.0  # seconds between the serving thread's checks for a stop it missed

log = logging.getLogger(__name__)


def _grpcio_version() -> tuple[int, int]:
    import grpc

    try:
        major, minor = grpc.__version__.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return (0, 0)


def available() -> bool:
    """Whether the installed grpcio is in the tested range and offers the internal names this
    module drives."""
    low, high = TESTED_GRPCIO
    return (_cygrpc is not None and low <= _grpcio_version() < high
            and all(hasattr(_cygrpc, name) for name in _NEEDED))


class CoreCall:
    """One call, from its arrival to its answer. `finish` may be called once, from any thread."""

    __slots__ = ("_server", "_call", "method", "metadata", "_finished")

    def __init__(self, server: CoreServer, call: Any, method: bytes, metadata: tuple[tuple[str, Any], ...]) -> None:
        self._server = server
        self._call = call
        self.method = method
        self.metadata = metadata
        self._finished = False

    def peer(self) -> str:
        peer = self._call.peer()
        return peer.decode("utf-8", "replace") if isinstance(peer, bytes) else str(peer)

    def receive(self) -> None:
        """Ask for the request message; the handler's `on_message` gets it."""
        ops = (_cygrpc.ReceiveMessageOperation(0),)
        if self._call.start_server_batch(ops, self) != 0:  # the call is its receive batch's tag
            self.finish(_cygrpc.StatusCode.internal, "cannot receive the request message")

    def finish(self, code: int, details: str = "", body: bytes | None = None,
               trailers: Sequence[tuple[str, Any]] = ()) -> None:
        """Answer the call: `code` is a grpc status code number (0 = OK), `body` the response message."""
        if self._finished:
            return
        self._finished = True
        ops: list[Any] = [_cygrpc.SendInitialMetadataOperation((), 0)]
        if body is not None:
            ops.append(_cygrpc.SendMessageOperation(body, 0))
        ops.append(_cygrpc.SendStatusFromServerOperation(tuple(trailers), code, details.encode(), 0))
        ops.append(_cygrpc.ReceiveCloseOnServerOperation(0))
        if self._call.start_server_batch(ops, _FINISHED) != 0:  # no event will come for it
            self._server._release()


class CoreHandler(Protocol):
    def on_call(self, call: CoreCall, method: Any) -> None:
        """A call to a served method arrived: answer it (`finish`) or ask for its message (`receive`),
        now or later from any thread. `method` is what `CoreServer` was given for the call's path."""
        ...

    def on_message(self, call: CoreCall, method: Any, message: bytes | None) -> None:
        """The request message (None: the client half-closed without sending one); `finish` it.
        Not called for a call that ended before its message arrived."""
        ...


_REQUEST: Final = object()  # tag of request_call
_FINISHED: Final = object()  # tag of a final batch
_SHUTDOWN: Final = object()  # tag of the server's shutdown notification


class CoreServer:
    """The C-core server, its completion queue and the thread that serves it.

    `methods` maps a full method path (b"/pkg.Service/Method") to a value handed back to the handler.
    `options` are core channel arguments, as `grpc.server(options=...)` takes them."""

    def __init__(self, options: Sequence[tuple[str, Any]], methods: dict[bytes, Any], handler: CoreHandler) -> None:
        if not available():
            raise RuntimeError("grpcio's internal cygrpc layer is not available")
        self._methods = methods
        self._handler = handler
        self._queue = _cygrpc.CompletionQueue()
        self._server = _cygrpc.Server(tuple(options), False)
        self._server.register_completion_queue(self._queue)
        self._lock = threading.Lock()
        self._outstanding = 0  # calls whose final batch has not completed
        self._stopping = False
        self._shutdown_notified = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._cancel_timer: threading.Timer | None = None
        self.on_stopped: Callable[[], None] | None = None  # called from the serving thread once stopped

    def add_port(self, address: str, credentials: Any = None) -> int:
        """Listen on "host:port"; `credentials` is a `grpc.ServerCredentials` (TLS) or None.
        The bound port (0 when it could not bind)."""
        if credentials is None:
            return int(self._server.add_http2_port(address.encode()))
        return int(self._server.add_http2_port(address.encode(), credentials._credentials))

    def start(self) -> None:
        self._server.start()
        self._server.request_call(self._queue, self._queue, _REQUEST)
        # the thread runs in the starter's context, so what the handler does there (self-metrics of
        # the pipeline part, in the small-host mode) is attributed as if the loop had done it
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._serve,), name="grpc-core", daemon=True)
        self._thread.start()

    def stop(self, grace: float | None) -> threading.Event:
        """Refuse new calls at once; calls in flight get `grace` seconds (None: none) before they
        are cancelled. The returned event is set once the serving thread has ended."""
        with self._lock:
            if self._stopping:
                return self._stopped
            self._stopping = True
            self._server.shutdown(self._queue, _SHUTDOWN)
        if grace is None or grace <= 0:
            self._server.cancel_all_calls()
        else:
            self._cancel_timer = threading.Timer(grace, self._cancel_rest)
            self._cancel_timer.daemon = True
            self._cancel_timer.start()
        return self._stopped

    def _cancel_rest(self) -> None:
        if not self._stopped.is_set():
            self._server.cancel_all_calls()

    def _release(self) -> None:
        with self._lock:
            self._outstanding -= 1
            done = self._shutdown_notified and self._outstanding == 0
        if done:
            self._queue.shutdown()

    def _serve(self) -> None:
        queue_timeout = _cygrpc.CompletionType.queue_timeout
        queue_shutdown = _cygrpc.CompletionType.queue_shutdown
        queue = self._queue
        try:
            while True:
                event = queue.poll(time.time() + POLL_PERIOD)
                kind = event.completion_type
                if kind == queue_timeout:
                    continue
                if kind == queue_shutdown:
                    return
                try:
                    self._dispatch(event)
                except Exception:  # noqa: BLE001 - a handler bug must not stop the server
                    log.exception("the gRPC serving thread failed to handle an event")
                event = None  # drop the call's reference before blocking again
        finally:
            self._server.destroy()
            if self._cancel_timer is not None:
                self._cancel_timer.cancel()
            self._stopped.set()
            if self.on_stopped is not None:
                self.on_stopped()

    def _dispatch(self, event: Any) -> None:
        tag = event.tag
        if tag is _FINISHED:
            self._release()
        elif type(tag) is CoreCall:  # its message arrived
            call = tag
            if not event.success:  # the call ended first: cancelled, or oversize (the core sent
                # RESOURCE_EXHAUSTED itself); nothing for the handler, only the call to release
                call.finish(_cygrpc.StatusCode.cancelled, "the call ended before its message was read")
                return
            self._handler.on_message(call, self._methods[call.method], event.batch_operations[0].message())
        elif tag is _REQUEST:
            self._arrived(event)
        elif tag is _SHUTDOWN:
            with self._lock:
                self._shutdown_notified = True
                done = self._outstanding == 0
            if done:
                self._queue.shutdown()

    def _arrived(self, event: Any) -> None:
        with self._lock:
            if not event.success:  # the server is shutting down: no call came
                return
            self._outstanding += 1
            if not self._stopping:
                self._server.request_call(self._queue, self._queue, _REQUEST)
        method_path = event.call_details.method
        call = CoreCall(self, event.call, method_path, event.invocation_metadata)
        method = self._methods.get(method_path)
        if method is None:
            call.finish(_cygrpc.StatusCode.unimplemented, "Method not found!")
            return
        self._handler.on_call(call, method)


def status_code(name: str) -> int:
    """The status code number of a grpc.StatusCode name ("unavailable")."""
    return int(getattr(_cygrpc.StatusCode, name))
