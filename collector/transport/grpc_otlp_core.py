"""OTLP Export over the C-core server (grpc_core): what each call does, and on which thread.

Which thread. A request of ordinary size is decoded, admitted and answered on the serving thread
itself when the admission may be entered from any thread (`RingAdmission`: its puts and trims hold
one lock, so each ring keeps one producer at a time): at light load every call is its own burst, and
a hop to the event loop and back (a self-pipe write, an epoll wake-up, two thread switches) cost
about as much as the decode. What needs the event loop goes there through a `LoopBridge` (one
wake-up per burst of calls): authentication (an authenticator is a coroutine), large messages (they
decode in the shared decode threads so the serving thread keeps polling), and every call when the
admission is not thread-safe (the test doubles). Either way the receive path is the one grpc.aio
ran, minus grpc.aio's per-call task, context and futures:

* auth (when configured) is judged from the call's metadata before the message is asked for; a
  refusal is UNAUTHENTICATED and the body is never received, inflated or decoded;
* `include_metadata` keeps the call's metadata (too much: INVALID_ARGUMENT);
* decode: malformed → INVALID_ARGUMENT, over a decode limit → RESOURCE_EXHAUSTED without RetryInfo,
  large messages decode in the shared decode threads (offload) so the loop keeps serving;
* admission: accepted → the success body; a full ring → the call waits on the event loop for room
  (`Ingest.offer_until_room`, up to a second, the serving thread keeps serving), then UNAVAILABLE
  with RetryInfo (retryable) if there is still none.

Oversize messages (`max_recv_msg_size`) and gzip are the C-core's, as with grpc.aio.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Future
from typing import Final

from collector.components.kit.auth import AuthOutcome
from collector.protocols import otlp_grpc
from collector.protocols.otlp_limits import TooMuchWork
from collector.protocols.otlp_request import DecodedExport
from collector.protocols.status import ExportRejected
from collector.signals import Signal
from collector.signals.metadata import Metadata, MetadataTooLarge, from_request
from collector.transport.auth import AuthGate
from collector.transport.grpc_core import CoreCall, status_code
from collector.transport.admission import AdmitOutcome, AdmitResult
from collector.transport.ingest import Ingest
from collector.transport.loop_bridge import LoopBridge
from collector.transport.offload import decode_pool

__all__ = ["OtlpCoreHandler"]

log = logging.getLogger(__name__)

OK: Final = 0
INVALID_ARGUMENT: Final = status_code("invalid_argument")
RESOURCE_EXHAUSTED: Final = status_code("resource_exhausted")
UNAVAILABLE: Final = status_code("unavailable")
UNAUTHENTICATED: Final = status_code("unauthenticated")
INTERNAL: Final = status_code("internal")


class OtlpCoreHandler:
    def __init__(self, ingest: Ingest, loop: asyncio.AbstractEventLoop, auth: AuthGate | None,
                 include_metadata: bool, offload_bytes: int) -> None:
        self.ingest = ingest
        self.loop = loop
        self.auth = auth
        self.include_metadata = include_metadata
        self.offload_bytes = offload_bytes
        self.bridge = LoopBridge(loop)
        # below this size a message is exported on the serving thread (0: never, see the docstring)
        self.inline_below = offload_bytes if getattr(ingest.admission, "thread_safe", False) else 0

    # --- serving thread ---------------------------------------------------------------------------
    def on_call(self, call: CoreCall, signal: Signal) -> None:
        if self.auth is None:
            call.receive()
        else:
            self.bridge.submit(self._authenticate, call)

    def on_message(self, call: CoreCall, signal: Signal, message: bytes | None) -> None:
        if message is not None and len(message) >= self.inline_below:
            self.bridge.submit(self._export, call, signal, message)
            return
        try:
            self._export(call, signal, message)
        except Exception:  # noqa: BLE001 - a bug here must still answer the call, or it is never released
            log.exception("exporting an OTLP/gRPC request failed")
            call.finish(INTERNAL, "the request could not be handled")

    # --- event loop (and `_export` on the serving thread, see the docstring) -------------------------
    def _authenticate(self, call: CoreCall) -> None:
        assert self.auth is not None
        headers = {key: value for key, value in call.metadata if isinstance(value, str)}
        task = self.loop.create_task(self.auth.check(headers, call.peer()))
        task.add_done_callback(lambda done: self._authenticated(call, done))

    def _authenticated(self, call: CoreCall, done: asyncio.Task[AuthOutcome]) -> None:
        if done.cancelled():  # the loop is going away: the call cannot be judged
            call.finish(UNAVAILABLE, "the receiver is shutting down")
            return
        verdict = done.result()  # AuthGate.check turns an authenticator's exception into a refusal
        if verdict.ok:
            call.receive()
        else:
            call.finish(UNAUTHENTICATED, f"unauthenticated: {verdict.reason}")

    def _export(self, call: CoreCall, signal: Signal, message: bytes | None) -> None:
        if message is None:
            self.ingest.invalid("malformed")
            call.finish(INVALID_ARGUMENT, "the call carried no request message")
            return
        metadata: Metadata = ()
        if self.include_metadata:
            try:
                metadata = from_request(call.metadata)
            except MetadataTooLarge as exc:
                self.ingest.refuse("metadata_too_large")
                call.finish(INVALID_ARGUMENT, str(exc))
                return
        if len(message) >= self.offload_bytes:
            future = self.loop.run_in_executor(decode_pool(), otlp_grpc.decode, signal, message)
            future.add_done_callback(lambda done: self._decoded(call, signal, metadata, done))
            return
        try:
            decoded = otlp_grpc.decode(signal, message)
        except Exception as exc:  # noqa: BLE001 - sorted into statuses by _refuse_undecodable
            self._refuse_undecodable(call, exc)
            return
        self._admit(call, signal, decoded, metadata)

    def _decoded(self, call: CoreCall, signal: Signal, metadata: Metadata,
                 done: asyncio.Future[DecodedExport] | Future[DecodedExport]) -> None:
        if done.cancelled():
            call.finish(UNAVAILABLE, "the receiver is shutting down")
            return
        exc = done.exception()
        if exc is not None:
            self._refuse_undecodable(call, exc)
            return
        self._admit(call, signal, done.result(), metadata)

    def _refuse_undecodable(self, call: CoreCall, exc: BaseException) -> None:
        if isinstance(exc, TooMuchWork):  # permanent: RESOURCE_EXHAUSTED without RetryInfo, as for oversize
            self.ingest.invalid(exc.reason)
            call.finish(RESOURCE_EXHAUSTED, exc.error.message)
        elif isinstance(exc, ExportRejected):
            self.ingest.invalid("malformed")
            call.finish(INVALID_ARGUMENT, exc.error.message)
        else:  # a decoder bug, not the client's fault: INTERNAL, logged with its traceback
            log.error("decoding an OTLP/gRPC request failed", exc_info=exc)
            self.ingest.invalid("decode_error")
            call.finish(INTERNAL, "the request could not be decoded")

    def _admit(self, call: CoreCall, signal: Signal, decoded: DecodedExport, metadata: Metadata) -> None:
        result = self.ingest.offer(decoded, metadata)
        if result.outcome is AdmitOutcome.FULL:  # wait for room on the loop
            self.bridge.submit(self._admit_when_room, call, signal, decoded, metadata)
            return
        self._answer(call, signal, decoded, result)

    def _admit_when_room(self, call: CoreCall, signal: Signal, decoded: DecodedExport, metadata: Metadata) -> None:
        task = self.loop.create_task(self.ingest.offer_until_room(decoded, metadata))
        task.add_done_callback(lambda done: self._waited(call, signal, decoded, done))

    def _waited(self, call: CoreCall, signal: Signal, decoded: DecodedExport, done: asyncio.Task[AdmitResult]) -> None:
        if done.cancelled():
            self._answer(call, signal, decoded,
                         AdmitResult(AdmitOutcome.UNAVAILABLE, message="the receiver is shutting down"))
            return
        exc = done.exception()
        if exc is not None:  # a bug below the handler must still answer the call, or it is never released
            log.error("admitting an OTLP/gRPC request failed", exc_info=exc)
            self.ingest.invalid("internal_error")
            call.finish(INTERNAL, "the request could not be handled")
            return
        self._answer(call, signal, decoded, done.result())

    def _answer(self, call: CoreCall, signal: Signal, decoded: DecodedExport, result: AdmitResult) -> None:
        error = self.ingest.settle(decoded, result)
        if error is None:
            call.finish(OK, "", otlp_grpc.success_body(signal))
        else:
            call.finish(UNAVAILABLE, error.message, trailers=otlp_grpc.failure_trailers(error))
