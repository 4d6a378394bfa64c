"""The persistent `sending_queue`: `sending_queue { storage = otelcol.storage.file.<label>.handler }`.

The async shell around `collector.storage.queuefile.QueueFile`, with the same interface as the
in-memory `BoundedQueue`, so `ExportSender` runs either one:

* `put(payload)` waits for room (`queue_size` in the sizer's unit, and a byte budget), appends the
  payload to the file, and only then settles it: the ring records it came from are released once
  the batch is on disk. A failed append (ENOSPC, EIO) keeps the payload unsettled, reports the
  component unhealthy, logs at most once per `log_interval`, and tries again every
  `retry_interval` until it works (or the queue closes: the payload then stays unsettled, in its
  ring). The caller waits meanwhile: backpressure, as with a full queue.
* `get()` hands out the oldest record as a new payload whose ack token removes the record from the
  file when the sender settles it (delivered, or counted as permanently failed).
* At shutdown nothing is dropped: records not delivered stay on disk, and `release()` closes the file.
  The next start (even after a reboot) delivers them first, before anything new.

Statistics (`stats()`): a record is held from its append until its ack, so requests, items and
bytes (framed, as written) are the file's live records, whether waiting or being sent. The records
carry no time; the queue remembers the wall time of each append of this run (one (seq, time) pair per
batch, forgotten once acked). The oldest held record's age is exact for those. A record recovered
from disk (a previous run's, or one moved from an orphaned worker directory) has no such time: its
age is approximated by the modification time of the segment file holding it, which is the time of
that segment's last write (its newest record, or a compaction's rewrite), so it understates the age.

Client metadata (the receiver's `include_metadata`, kept by the batch processor's `metadata_keys`)
is stored with its batch, so a batch delivered after a restart still goes out with its tenant's
headers: the record's signal byte has `WITH_METADATA` set and the body starts with the metadata
block of `collector/signals/metadata.py`. Batches without metadata are stored as before.

Directory: `<storage directory>/<exporter id>/<worker signal>-<worker index>/`, one per worker
process (single writer; `QueueFile.lock`). A reload's replacement instance waits for the lock its
predecessor holds until that one has shut down, then takes over its backlog.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Final, Sequence

from collector.components.kit.api import Health, HealthState
from collector.components.kit.exporterhelper.queue import QueueClosed, QueueStats
from collector.selfmetrics.otelcol import PIPELINE_DROPPED
from collector.signals import AckToken, Payload, Signal
from collector.signals.metadata import Metadata, pack, unpack
from collector.storage.queuefile import QueueFile, Recovery

SIGNAL_CODES: Final = {signal: code for code, signal in enumerate(Signal)}
SIGNALS: Final = tuple(Signal)
WITH_METADATA: Final = 0x80  # in a record's signal byte: the body starts with a client-metadata block
DEFAULT_MAX_BYTES: Final = 512 << 20  # byte budget of one queue directory (records not yet delivered)
LOCK_POLL: Final = 0.05


@dataclass(frozen=True, slots=True)
class FileStorageHandler:
    """The `handler` export of `otelcol.storage.file`: where and how queues keep their files."""

    component_id: str
    directory: Path
    fsync: bool = False
    timeout: float = 1.0  # how long to wait for a queue directory's lock before reporting it
    create_directory: bool = True
    directory_permissions: int = 0o750
    compact_on_start: bool = False
    compaction_chunk: int = 65536  # bytes per write of the rewrite (0: no limit)

    def __str__(self) -> str:
        return f"{self.component_id}.handler"

    def queue_directory(self, exporter_id: str, worker_signal: Signal | None, worker_index: int) -> Path:
        return self.directory / exporter_id / f"{worker_signal.value if worker_signal else 'any'}-{worker_index}"

    def orphaned_directories(self, exporter_id: str, worker_signal: Signal | None, worker_index: int,
                             workers: int) -> list[Path]:
        """Queue directories of workers that no longer exist (the worker count was lowered) that
        this worker takes over: index >= workers and index % workers == worker_index."""
        prefix = f"{worker_signal.value if worker_signal else 'any'}-"
        found = []
        parent = self.directory / exporter_id
        for path in sorted(parent.glob(prefix + "*")) if parent.is_dir() else []:
            index = path.name[len(prefix):]
            if path.is_dir() and index.isdigit() and int(index) >= workers and int(index) % workers == worker_index:
                found.append(path)
        return found


class PersistentQueue:
    def __init__(self, handler: FileStorageHandler, directory: Path, *, capacity: int, sizer: str,
                 component_id: str, logger: logging.Logger, on_health: Callable[[Health], None],
                 max_bytes: int = DEFAULT_MAX_BYTES, retry_interval: float = 1.0, log_interval: float = 10.0,
                 segment_bytes: int = 16 << 20, clock: Callable[[], float] = time.monotonic,
                 orphans: Sequence[Path] = (), wall_clock: Callable[[], float] = time.time) -> None:
        self.handler = handler
        self.directory = directory
        self.capacity = capacity
        self.sizer = sizer
        self.component_id = component_id
        self.logger = logger
        self.on_health = on_health
        self.max_bytes = max_bytes
        self.retry_interval = retry_interval
        self.log_interval = log_interval
        self.clock = clock
        self.orphans = list(orphans)
        self.file = QueueFile(directory, fsync=handler.fsync, segment_bytes=segment_bytes, clock=clock,
                              compact_on_open=handler.compact_on_start, compaction_chunk=handler.compaction_chunk)
        self.closed = False
        self.recovery: Recovery | None = None
        self.failing: str | None = None  # the last append error while appends fail
        self._opened = asyncio.Event()
        self._changed = asyncio.Event()
        self._opener: asyncio.Task[None] | None = None
        self._last_log = float("-inf")
        self._busy = asyncio.Lock()  # one append at a time (the room check and the write together)
        self.wall_clock = wall_clock
        self._appended: deque[tuple[int, float]] = deque()  # (seq, wall time) of this run's appends

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the directory in the background: its lock may still be held by a predecessor."""
        if self._opener is None:
            self._opener = asyncio.create_task(self._open(), name=f"{self.component_id} persistent queue open")

    async def _open(self) -> None:
        started = self.clock()
        reported = False
        while not self.closed:
            try:
                if self.handler.create_directory:
                    _make_dirs(self.directory, self.handler.directory_permissions)
                elif not self.handler.directory.is_dir():
                    raise FileNotFoundError(f"storage directory {self.handler.directory} does not exist "
                                            "(and create_directory = false)")
                else:
                    self.directory.mkdir(parents=True, exist_ok=True)
                if self.file.lock():
                    self.recovery = self.file.open()
                    self._recovered(self.recovery)
                    self._adopt_orphans()
                    self._opened.set()
                    self._notify()
                    if not self.failing:
                        self.on_health(Health(HealthState.HEALTHY, "started component"))
                    return
                problem = (f"queue directory {self.directory} is locked by another owner "
                           f"(waited more than {self.handler.timeout}s)")
            except OSError as error:
                problem = f"cannot open queue directory {self.directory}: {error}"
            if not reported and self.clock() - started >= self.handler.timeout:
                reported = True
                self.on_health(Health(HealthState.UNHEALTHY, problem))
                self.logger.error("Persistent queue not available; holding data upstream. component_id=%s %s",
                                  self.component_id, problem)
            await asyncio.sleep(LOCK_POLL)

    def _recovered(self, recovery: Recovery) -> None:
        if recovery.records:
            self.logger.info("Persistent queue: delivering %d records (%d items) left by the previous run first. "
                             "component_id=%s directory=%s", recovery.records, recovery.items, self.component_id,
                             self.directory)
        if recovery.torn_bytes:
            self.logger.warning("Persistent queue: cut %d bytes of a record torn by a crash while writing. "
                                "component_id=%s directory=%s", recovery.torn_bytes, self.component_id, self.directory)
        if recovery.consumed_unreadable:
            self.logger.error("Persistent queue: the consumed position was unreadable; delivering from the oldest "
                              "record (duplicates are possible). component_id=%s directory=%s",
                              self.component_id, self.directory)
        for damage in recovery.corrupt:
            known = damage.items >= 0
            if known:
                signal = _signal(damage.signal)
                PIPELINE_DROPPED[signal].labels(self.component_id, "/", "corrupt").inc(damage.items)
            self.logger.error("Persistent queue: skipped a corrupt record (%s) in segment %d at offset %d, %d bytes. "
                              "component_id=%s directory=%s", f"{damage.items} items" if known else "header damaged",
                              damage.segment, damage.offset, damage.length, self.component_id, self.directory)

    def _adopt_orphans(self) -> None:
        """Move the undelivered records of queue directories whose worker is gone into this queue,
        then remove those directories (the worker count was lowered since they were written)."""
        for directory in self.orphans:
            orphan = QueueFile(directory, fsync=self.handler.fsync)
            if not orphan.lock():
                self.logger.warning("Persistent queue: %s is locked by another owner; not adopted. component_id=%s",
                                    directory, self.component_id)
                continue
            try:
                recovery = orphan.open()
                self._recovered(recovery)
                moved = 0
                while (taken := orphan.take()) is not None:
                    entry, body = taken
                    self.file.append(body, items=entry.items, signal=entry.signal)
                    orphan.ack(entry.seq)
                    moved += entry.items
            except OSError as error:
                self.logger.error("Persistent queue: cannot adopt %s (%s); left in place. component_id=%s",
                                  directory, error, self.component_id)
                orphan.close()
                continue
            orphan.close()
            shutil.rmtree(directory, ignore_errors=True)
            self.logger.info("Persistent queue: took over %d items from %s, the queue of a worker that no longer "
                             "exists. component_id=%s", moved, directory, self.component_id)

    async def close(self) -> None:
        """Refuse new payloads and stop handing out records; what is on disk stays there."""
        self.closed = True
        self._notify()

    def take_all(self) -> list[Payload]:
        """Nothing is left to drop at shutdown: undelivered records stay on disk."""
        return []

    def release(self) -> None:
        """After the senders stopped: close the file (saves the position) and release the lock."""
        self.closed = True
        if self._opener is not None and not self._opener.done():
            self._opener.cancel()
        self.file.close()

    # --- data path -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.file)

    def used(self) -> int:
        return {"requests": self.file.live_records, "items": self.file.live_items,
                "bytes": self.file.live_bytes}[self.sizer]

    def _room(self, payload: Payload) -> bool:
        if not self.file.live_records:
            return True  # one element larger than the whole capacity still goes in alone
        size = {"requests": 1, "items": payload.item_count, "bytes": payload.size_bytes}[self.sizer]
        return self.used() + size <= self.capacity and self.file.live_bytes + payload.size_bytes <= self.max_bytes

    async def _wait(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            self._changed.clear()
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()

    async def put(self, payload: Payload) -> None:
        """Wait for room, append, settle the payload. Raises QueueClosed (payload untouched) once closed."""
        while True:
            await self._wait(lambda: self.closed or (self._opened.is_set() and not self._busy.locked()
                                                     and self._room(payload)))
            if self.closed:
                raise QueueClosed("sending queue is shut down")
            async with self._busy:
                try:
                    code = SIGNAL_CODES[payload.signal]
                    body = payload.data
                    if payload.metadata:
                        code |= WITH_METADATA
                        body = pack(payload.metadata, body)
                    entry = self.file.append(body, items=payload.item_count, signal=code)
                    self._appended.append((entry.seq, self.wall_clock()))
                except OSError as error:
                    self._append_failed(error)
                    await self._sleep_unless_closed(self.retry_interval)
                    continue
                finally:
                    self._notify()
            break
        if self.failing is not None:
            self.logger.info("Persistent queue: appends work again. component_id=%s directory=%s",
                             self.component_id, self.directory)
            self.failing = None
            self.on_health(Health(HealthState.HEALTHY, "persistent queue appends work again"))
        payload.settle()  # on disk: its ring records may go

    def _append_failed(self, error: OSError) -> None:
        text = f"{os.strerror(error.errno) if error.errno else error} ({self.directory})"
        if self.failing is None:
            self.on_health(Health(HealthState.UNHEALTHY, f"persistent queue append failed: {text}"))
        self.failing = text
        now = self.clock()
        if now - self._last_log >= self.log_interval:
            self._last_log = now
            self.logger.error("Persistent queue append failed; holding data upstream and retrying every %.1fs. "
                              "component_id=%s error=%r", self.retry_interval, self.component_id, text)

    async def _sleep_unless_closed(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wait(lambda: self.closed), seconds)
        except asyncio.TimeoutError:
            pass

    async def get(self) -> Payload | None:
        """The oldest undelivered record as a payload; None once the queue is closed."""
        while True:
            await self._wait(lambda: self.closed or (self._opened.is_set() and len(self.file) > 0))
            if self.closed:
                return None
            try:
                taken = self.file.take()
            except OSError as error:
                entry = self.file.drop_head()
                if entry is not None:
                    signal = _signal(entry.signal)
                    PIPELINE_DROPPED[signal].labels(self.component_id, "/", "corrupt").inc(entry.items)
                self.logger.error("Persistent queue: a record could not be read back and was skipped. "
                                  "component_id=%s error=%r", self.component_id, str(error))
                self._notify()
                continue
            assert taken is not None
            entry, data = taken
            signal = _signal(entry.signal)
            metadata: Metadata = ()
            if entry.signal & WITH_METADATA:
                try:
                    metadata, data = unpack(data)
                except ValueError as error:  # the record's CRC held: written damaged, count it
                    PIPELINE_DROPPED[signal].labels(self.component_id, "/", "corrupt").inc(entry.items)
                    self.logger.error("Persistent queue: a record's metadata block is damaged; record skipped. "
                                      "component_id=%s error=%r", self.component_id, str(error))
                    self.file.ack(entry.seq)
                    self._notify()
                    continue
            token = AckToken(entry.seq, self._acked)
            return Payload(signal, data=data, item_count=entry.items, acks=[token], metadata=metadata)

    def done(self, payload: Payload) -> None:
        """Nothing to do: a record stays held until its ack token removes it from the file."""

    def stats(self) -> QueueStats:
        file = self.file
        capacity_bytes = min(self.capacity, self.max_bytes) if self.sizer == "bytes" else self.max_bytes
        return QueueStats("disk", file.live_records, file.live_items, file.live_bytes, self._oldest_age(),
                          self.capacity, capacity_bytes, file.disk_bytes)

    def _oldest_age(self) -> float:
        """Seconds since the oldest record not yet acked was appended (see the module doc)."""
        oldest = self.file.oldest_live()
        appended = self._appended
        if oldest is None:
            appended.clear()
            return 0.0
        seq, segment = oldest
        while appended and appended[0][0] < seq:  # acked (records are acked about in order)
            appended.popleft()
        if appended and appended[0][0] == seq:
            at = appended[0][1]
        else:  # recovered from disk: the segment's last write, an underestimate
            try:
                at = segment.stat().st_mtime
            except OSError:
                return 0.0
        return max(0.0, self.wall_clock() - at)

    def _acked(self, token: AckToken) -> None:
        self.file.ack(token.seq)
        consumed = self.file.consumed  # the oldest record not yet acked (or the next one)
        while self._appended and self._appended[0][0] < consumed:
            self._appended.popleft()
        self._notify()


def _signal(code: int) -> Signal:
    code &= ~WITH_METADATA
    return SIGNALS[code] if code < len(SIGNALS) else Signal.TRACES


def _make_dirs(directory: Path, mode: int) -> None:
    """mkdir -p with `mode` for each directory created (minus the umask, as Alloy's MkdirAll)."""
    missing = []
    path = directory
    while not path.exists():
        missing.append(path)
        path = path.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=mode)
        except FileExistsError:
            pass
