"""A worker process: reads its rings and runs its signal's part of the pipeline as in-process calls.

Theory of operation. The worker owns one ring per receiver process. It sleeps on an eventfd doorbell
that producers ring after each record, so an idle worker costs nothing; when its pipeline buffers
records anyway, a woken worker lingers a few milliseconds first so that the records of several
requests are read in one wake-up (`MAX_LINGER`). Awake, it reads records in order, wraps each in a
`Payload` holding one `AckToken`, and awaits the entry consumer (the fan-out behind the receiver's
`output` list). Awaiting is the backpressure: when a downstream queue is full the consume call does
not return, the worker stops reading, its rings fill, and receivers refuse clients with a retryable
status. A ring's committed read position advances only over records whose
payloads have all been settled (delivered or counted as dropped), so a worker killed with SIGKILL
loses nothing: its replacement re-reads whatever was not settled (at-least-once; duplicates possible).
"""

from __future__ import annotations

import asyncio
import logging
import signal as signals
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

from collector.components.kit.api import Consumer, RuntimeServices
from collector.components.kit.fanout import Fanout
from collector.components.kit.processorhelper import AsyncProcessor, Processor
from collector.pipeline.loader import Pipeline, load
from collector.pipeline.plan import receiver_codes, receiver_components, worker_components
from collector.runtime.acks import RingAcks
from collector.runtime.admission import SIGNALS_BY_CODE
from collector.runtime import logs
from collector.runtime.control import listen
from collector.runtime.host import ComponentHost
from collector.runtime.livedebug import LiveDebugTaps
from collector.runtime.ring import RECORD_METADATA, Doorbell, Record, Ring
from collector.runtime.spec import ChildSpec, doorbell_key
from collector.runtime.status import StatusChannel
from collector.selfmetrics.otelcol import PIPELINE_DROPPED
from collector.signals import AckToken, Payload, Signal
from collector.signals.metadata import Metadata, unpack

log = logging.getLogger(__name__)

# Yield to the event loop after this many records so timers (batch timeouts, retries) keep running.
_RECORDS_PER_TURN = 64
# Safety net in case a doorbell is missed: re-check the rings this often when idle.
_IDLE_RECHECK_SECONDS = 1.0
_UNROUTABLE_LOG_INTERVAL = 10.0
# At light load a wake-up per record costs more than the record: an event-loop turn with cold caches
# in the worker, and a process wake-up inside the producer's doorbell syscall (at 100 requests/s,
# about a third of the worker's CPU, and the receiver's wake-up work on top). When every pipeline entry holds payloads anyway (a
# batch processor waits up to its `timeout` for more), the doorbell's first ring starts a linger of
# LINGER_SHARE of that hold, at most MAX_LINGER, during which the worker does not listen; then it reads
# everything that gathered in one turn. A record thus waits at most MAX_LINGER longer than before (its
# batch's own deadline starts when it reaches the batcher); under a steady heavy load the worker is
# rarely asleep and a linger changes nothing but how often the doorbell is read.
LINGER_SHARE = 0.25
MAX_LINGER = 0.05


@dataclass
class _Source:
    ring: Ring
    acks: RingAcks


class Worker:
    def __init__(self, spec: ChildSpec, pipeline: Pipeline, status: StatusChannel,
                 stopping: asyncio.Event | None = None) -> None:
        assert spec.signal is not None
        self.spec = spec
        self.signal = Signal(spec.signal)
        self.pipeline = pipeline
        self.status = status
        self.host = ComponentHost(
            pipeline,
            worker_components(pipeline, self.signal),
            process_role=spec.title,
            storage_path=Path(spec.storage_path),
            http_listen_addr=spec.http_listen_addr,
            worker_signal=self.signal,
            worker_index=spec.index,
            services=RuntimeServices(run_dir=Path(spec.run_dir),
                                     workers_for_signal=spec.workers.get(spec.signal, 1)),
            report=status,
        )
        # given: the caller owns the signals and sets it (inline mode); else SIGTERM/SIGINT set it
        self._own_signals = stopping is None
        self._stopping = stopping if stopping is not None else asyncio.Event()
        self._waiter: asyncio.Future[None] | None = None  # what `_pump` sleeps on while the rings are empty
        self._sources: list[_Source] = []
        self._entries: dict[int, Consumer] = {}
        self._previous: Pipeline | None = None  # the configuration before the last reload
        self._unroutable = [0, 0]  # records, items dropped for want of a pipeline since the last log
        self._unroutable_logged = float("-inf")
        self._taps = LiveDebugTaps()
        self._linger = 0.0  # seconds a wake-up waits before reading (`linger_for`)
        self._lingering: asyncio.TimerHandle | None = None  # its timer while the doorbell is unheard

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        if self._own_signals:
            for sig in (signals.SIGTERM, signals.SIGINT):
                loop.add_signal_handler(sig, self._stopping.set)
        self.host.build()
        await self.host.start()
        self._entries = self._entry_consumers()
        self._linger = linger_for(self._entries.values(), self.signal)
        self._sources = [_Source(ring, RingAcks(ring)) for ring in (Ring.attach(r.name) for r in self.spec.rings)]
        for source in self._sources:
            source.ring.rewind()
        doorbell = Doorbell.from_fd(self.spec.doorbell_fds[doorbell_key(self.spec.signal or "", self.spec.index)])
        loop.add_reader(doorbell.fd, self._on_doorbell, doorbell)
        stop_listening = listen(self.spec.control_fd, self._on_command)
        self.status({"event": "ready"})
        log.info("worker started with %d components", len(self.host.instances))
        stop_waiter = asyncio.ensure_future(self._stopping.wait())
        try:
            await self._pump(stop_waiter)
        finally:
            if self._lingering is not None:
                self._lingering.cancel()
                self._lingering = None
            loop.remove_reader(doorbell.fd)
            stop_waiter.cancel()
            stop_listening()
        self.status({"event": "stopping"})
        await self._drain()
        await self.host.shutdown(self.spec.shutdown_timeout)
        for source in self._sources:
            if source.acks.outstanding:
                log.warning("%d records were not settled before shutdown", source.acks.outstanding)
            source.ring.close()
        log.info("worker stopped")

    def _entry_consumers(self) -> dict[int, Consumer]:
        """Receiver code in record headers -> the fan-out behind that receiver's output list.

        Codes are a pure function of the receiver's ID (`collector.pipeline.plan.receiver_codes`), so
        records a kept receiver wrote before a reload keep their pipeline. Receivers the reload
        removed stay routable for one more reload (their records may still be in the rings); the
        reload was refused if a new receiver's code equals one of theirs.
        """
        codes = receiver_codes(self.pipeline, self._previous)
        return {codes[rid]: fanouts[self.signal]
                for rid, fanouts in self.host.entry_points(receiver_components(self.pipeline)).items()}

    async def _on_command(self, command: dict[str, object]) -> None:
        if command.get("cmd") == "livedebug":
            self._taps.command(command)
            self._taps.attach(self.host.fanouts())
            return
        if command.get("cmd") != "reload":
            return
        generation = command.get("generation")
        try:
            pipeline = load(str(command["config_path"]), http_listen_addr=self.spec.http_listen_addr,
                            storage_path=Path(self.spec.storage_path))
            receiver_codes(pipeline, self.pipeline)  # refuse before changing anything
            report = await self.host.apply(pipeline, worker_components(pipeline, self.signal),
                                           self.spec.shutdown_timeout)
            self.pipeline, self._previous = pipeline, self.pipeline
            logs.reconfigure(pipeline.logging.level, pipeline.logging.format)
            self._entries = self._entry_consumers()
            self._linger = linger_for(self._entries.values(), self.signal)
            self._taps.attach(self.host.fanouts())  # new and replaced components' fan-outs too
        except Exception as exc:
            log.exception("reload failed")
            self.status({"event": "reloaded", "generation": generation, "ok": False, "error": str(exc)})
            return
        log.info("configuration reloaded: %d kept, %d replaced, %d added, %d removed",
                 len(report.kept), len(report.replaced), len(report.added), len(report.removed))
        self.status({"event": "reloaded", "generation": generation, "ok": True})

    def _on_doorbell(self, doorbell: Doorbell) -> None:
        doorbell.drain()
        if self._linger <= 0 or self._lingering is not None:
            self._wake_up()
            return
        # Linger: stop listening to the doorbell and read the rings `_linger` seconds from now, so the
        # records of the next requests gather and are read in one wake-up. Producers keep ringing
        # while no one listens; that only raises the counter (at most one wake-up inside the event
        # loop's C code, which drops the fd from epoll then), and `_end_linger` drains it before the
        # pump reads, as the doorbell protocol asks.
        loop = asyncio.get_running_loop()
        loop.remove_reader(doorbell.fd)
        self._lingering = loop.call_later(self._linger, self._end_linger, doorbell)

    def _end_linger(self, doorbell: Doorbell) -> None:
        self._lingering = None
        doorbell.drain()
        asyncio.get_running_loop().add_reader(doorbell.fd, self._on_doorbell, doorbell)
        self._wake_up()

    def _wake_up(self, *_: object) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _pump(self, stop_waiter: asyncio.Task[Literal[True]]) -> None:
        """Read while there is something to read, else sleep on one future that the doorbell, the stop
        event or the idle re-check completes. At light load every record is a sleep and a wake-up, so
        a wake-up costs one future and one timer (no task, no `asyncio.wait`). No ring is rung unseen:
        when `_read_available` finds nothing it has not yielded to the loop since its last look, so a
        doorbell rung after that look completes the future this sleep waits on."""
        loop = asyncio.get_running_loop()
        stop_waiter.add_done_callback(self._wake_up)
        while not self._stopping.is_set():
            if await self._read_available():
                continue
            self._waiter = waiter = loop.create_future()
            recheck = loop.call_later(_IDLE_RECHECK_SECONDS, self._wake_up)
            try:
                await waiter
            finally:
                recheck.cancel()
                self._waiter = None

    async def _drain(self) -> None:
        """On shutdown: receivers have stopped, so whatever is in the rings now is all there is."""
        while await self._read_available():
            pass

    async def _read_available(self) -> bool:
        progressed = False
        for source in self._sources:
            for _ in range(_RECORDS_PER_TURN):
                record = source.ring.next_record()
                if record is None:
                    break
                progressed = True
                await self._dispatch(source, record)
        if progressed:
            await asyncio.sleep(0)
        return progressed

    async def _dispatch(self, source: _Source, record: Record) -> None:
        seq, header, data, end = record
        token = source.acks.track(seq, end)
        signal = SIGNALS_BY_CODE.get(header.signal)
        entry = self._entries.get(header.component)
        if signal is not self.signal or entry is None:
            # e.g. a record adopted after a restart whose receiver the new configuration removed
            PIPELINE_DROPPED[self.signal].labels("worker", "/", "receiver removed").inc(header.items)
            self._unroutable[0] += 1
            self._unroutable[1] += header.items
            now = time.monotonic()
            if now - self._unroutable_logged >= _UNROUTABLE_LOG_INTERVAL:
                self._unroutable_logged = now
                log.error("dropping ring records: signal %s / receiver %d has no pipeline here "
                          "(%d records, %d items since the last report)",
                          header.signal, header.component, *self._unroutable)
                self._unroutable = [0, 0]
            token.release()
            return
        metadata: Metadata = ()
        if header.flags & RECORD_METADATA:
            try:
                metadata, data = unpack(data)
            except ValueError as exc:  # behind a valid CRC/position check: a bug, not a torn write
                log.error("dropping ring record %d: its client-metadata block is damaged (%s)", seq, exc)
                PIPELINE_DROPPED[self.signal].labels("worker", "/", "corrupt record").inc(header.items)
                token.release()
                return
        await deliver(entry, Payload(signal, data=data, item_count=header.items or None, acks=[token],
                                     metadata=metadata), token)


def holds_for(consumer: object, signal: Signal) -> float:
    """Seconds a payload of `signal` handed to `consumer` may wait downstream before it is sent on at
    the latest: what the consumer says (`holds_for`, e.g. a batch processor's `timeout`); through a
    fan-out the least over its consumers, through a processor that forwards each payload as it comes
    (`processorhelper`) what its output holds; 0 for anything else (it may send at once)."""
    if isinstance(consumer, Fanout):
        return min((holds_for(c, signal) for c in consumer.consumers), default=0.0)
    own = getattr(consumer, "holds_for", None)
    if own is not None:
        return max(0.0, float(own))
    if isinstance(consumer, (Processor, AsyncProcessor)) and type(consumer).consume is Processor.consume:
        output = consumer.output.get(signal)
        return holds_for(output, signal) if output is not None else 0.0
    return 0.0


def linger_for(entries: Iterable[Consumer], signal: Signal) -> float:
    """How long a woken worker lets records gather in its rings: a share of what every entry holds
    them anyway (a batch processor's `timeout`), at most `MAX_LINGER`; 0 (read at once) when some
    entry may send a payload on as soon as it gets it."""
    hold = min((holds_for(entry, signal) for entry in entries), default=0.0)
    return min(MAX_LINGER, hold * LINGER_SHARE)


async def deliver(entry: Consumer, payload: Payload, token: AckToken) -> bool:
    """Hand one ring record to the pipeline; False if the pipeline failed on it.

    A record that breaks the pipeline would break every successor process that re-reads it, so it
    is counted as dropped, logged, and its ring space released (`abandon`) instead.
    """
    try:
        await entry.consume(payload)
        return True
    except Exception:
        signal = payload.signal
        items = _count_quietly(payload)
        log.exception("dropping ring record %d (%d %s): the pipeline failed on it", token.seq, items, signal.spec.items)
        PIPELINE_DROPPED[signal].labels("worker", "/", "processing error").inc(items)
        token.abandon()
        return False


def _count_quietly(payload: Payload) -> int:
    try:
        return payload.item_count
    except Exception:  # undecodable: it cannot be counted either
        return 0


async def run_worker(spec: ChildSpec, pipeline: Pipeline, status: StatusChannel,
                     stopping: asyncio.Event | None = None) -> None:
    started = time.monotonic()
    await Worker(spec, pipeline, status, stopping).run()
    log.debug("worker ran for %.1fs", time.monotonic() - started)
