"""Single-producer single-consumer ring of framed records in POSIX shared memory.

One ring joins one receiver process (producer) to one worker process (consumer). The supervisor
creates the segment (`Ring.create`, untracked, so that it outlives a SIGKILLed supervisor), passes
its name to both children, which `Ring.attach` it, and unlinks it at the end if it is empty. A ring
that still holds records when its supervisor dies or stops is adopted by the next supervisor of the
same instance (same `--storage.path`): names, geometry checks and draining are in `adoption.py`. Records are bytes plus a small header, never pickled. The consumer reads at
a private cursor and frees space only with `release_to`, once the worker has handed the records on
(a skip marker with nothing unreleased before it is freed as the cursor steps over it, point 8);
a consumer that is killed and restarted resumes at the committed read position and so reads again
every record it had read but not released. The producer never waits: a full ring makes `try_put`
return False and the receiver decides (offer again a little later, then refuse with a retryable
status).

Shared-memory layout (native byte order, which is little-endian on every Linux target we run on;
all offsets in bytes from the start of the segment)

    control block, 256 bytes, one 64-byte cache line per writer so the two processes never write
    the same line:
      0  u64 magic          b"CRING\\x00\\x03\\x00" (format version 3)      written once by the owner
      8  u64 capacity       size of the data area, a multiple of 8       written once by the owner
     16  u64 flags          bit 0: records carry a CRC32 (see below)       written once by the owner
     64  u64 write_pos      producer: bytes ever published               single writer: producer
     72  u64 next_seq       producer: seq of the next record              single writer: producer
     80  u64 last_skip      producer: position of the latest skip marker + 1 (0: none), for
                            observers only (`used_bytes`)                single writer: producer
    128  u64 read_pos       consumer: bytes ever released (committed)    single writer: consumer
    136  u64 read_seq       consumer: seq of the first unreleased record single writer: consumer
    192..255 reserved (zero)
    data area, `capacity` bytes, from offset 256

Positions are absolute byte counts that only grow (2**64 bytes never wrap in practice); the byte
offset in the data area is `pos % capacity`. `write_pos - read_pos` is the space in use, so
"empty" and "full" need no extra flag and a record may fill the ring exactly. `used_bytes` (what the
fill metric shows) leaves out the bytes of the latest skip marker while it is unreleased: they are
in use, but hold no record.

Record framing: every record starts at a position that is a multiple of 8 and takes
`record_size(n) = align8(40 + n)` bytes: a 40-byte header then the payload, then 0-7 bytes of
padding that are never written or read.

    0  u64 pos         the record's own absolute position: a header left over from an earlier lap
                       (or garbage at a position that is not a record start) cannot pass for it
    8  u64 seq         per-ring sequence number assigned by the producer
   16  u64 arrival_ns  receiver's clock when the request arrived
   24  u32 length      payload bytes n
   28  u16 component   code of the receiving component
   30  u8  signal      signal code
   31  u8  flags       bit 0 (RECORD_METADATA): the payload starts with a client-metadata block
                       (`collector/signals/metadata.py`); bit 7 (RECORD_SKIP): a skip marker, not a
                       record (below); other bits written as 0
   32  u32 items       items (spans, points, log records) in the payload, as the receiver counted
                       them, so a worker that only batches and forwards never has to decode
   36  u32 crc         CRC32 of header bytes 0..35 then the payload, or 0 if the ring has no CRCs

Records wrap around the end of the data area by split copy: header and payload are written as one
logical run of bytes that continues at offset 0, so the whole capacity is usable and a record of
`capacity - 40` payload bytes always fits an empty ring. At light load the producer wraps early
instead (point 8): a skip marker is a record header with RECORD_SKIP set, its own position, the seq
of the record after it, items 0 and a length that makes its `record_size` reach exactly the end of
the lap; its "payload" bytes are never written or read, and its CRC (checksum rings) covers the
header alone. A marker is always published together with the record that follows it at offset 0.
Format 2 (no markers) is read as it is, and a producer never writes a marker into a format-2 ring.
The common contiguous case costs one `struct.pack_into` plus one slice assignment into the mmap (one
memcpy) to put, and one `unpack_from` plus one mmap slice (one memcpy straight into a new `bytes`)
to get; a split payload is written as two slices and read with one `bytes.join` of two memoryviews
(still one copy).

Why it is correct (what we rely on, precisely)

1. Single writer per word. Only the producer stores write_pos/next_seq and the data area between
   write_pos and read_pos + capacity; only the consumer stores read_pos/read_seq. No
   read-modify-write is shared, so no atomic instructions are needed, only ordering.
2. Untorn index words. The index words are read and written through a memoryview cast to native
   'Q' over the mmap: CPython copies such an item with an 8-byte `memcpy` of constant size, which
   compilers emit as one 8-byte load or store, and the word is 8-aligned (mmap is page aligned),
   so on x86-64 and aarch64 the access is single-copy atomic. (`struct.pack_into('<Q')` is NOT
   used for them: the standard-size packers store byte by byte.)
3. Publication order, producer: payload and header are stored first, then next_seq, then
   write_pos with one store. The consumer reads only below the write_pos it loaded, so it never
   sees a record that is still being written, provided stores become visible in program order.
   x86-64 (TSO) guarantees that stores are not reordered with older stores; glibc's memcpy issues
   `sfence` after the non-temporal stores it uses for very large copies, and the stores of a
   `rep movsb` are not reordered with later stores. On the loading side x86 does not reorder
   loads with older loads, so the consumer's payload loads see data at least as new as the
   write_pos it loaded. Python adds no reordering of its own: every bytecode runs to completion
   in program order within its process; the GIL orders threads of one process only and plays
   no part here.
4. Space reuse, producer: the producer overwrites bytes only below read_pos + capacity, for the
   read_pos it loaded (it caches that limit and reloads read_pos only when a record does not fit;
   read_pos only grows, so a stale value merely understates the free space), and the consumer
   stores read_pos only after it has copied the records out (its payload is a private `bytes` by
   then). On x86 a store is never reordered with an older load, so that copy is complete before
   the release becomes visible.
5. Weakly ordered CPUs (aarch64, POWER): points 3 and 4 assume store->store and load->load order,
   which these CPUs do not give without barriers, and pure Python cannot emit a barrier. Rings
   created with `checksum=True` (the default on every machine that is not x86) stay correct
   there: the consumer checks that the header's `pos` equals its cursor and that the CRC32 over
   header and payload matches; a record that fails either check is treated as not yet visible
   (`next_record` returns None and the same position is tried again later), so a stale or
   half-visible record is never delivered, save for a 2**-32 chance of a CRC collision on a torn
   read. The consumer releases only after the checksum compare has succeeded, and the
   producer's overwrite happens only after its free-space compare; ARMv8 never makes a store
   visible before the branch it is control-dependent on is resolved, so point 4 holds there
   without a barrier. Wake-ups through a Doorbell (eventfd) are ordered by the kernel's lock.
   Cost of the CRC: one zlib.crc32 on each side (a few GB/s), so it is off by default on x86-64.
   A record that never passes its checks is real corruption; `unsettled_reads` counts the misses
   so the worker can give up on the ring after a grace period. Without CRCs (x86) the same
   finding raises RingCorruptError at once.
6. Waking a sleeping consumer is the Doorbell's job (ring_doorbell.py): drain the doorbell, read
   until `next_record` returns None, then sleep on it; the producer rings after publishing.

7. Giving pages back (`trim`, producer only). Shared-memory pages are allocated when first touched
   and stay allocated until the segment is unlinked, so without this a ring that went round once (a
   burst, or minutes of light traffic) keeps its whole capacity resident. The producer calls `trim`
   from a timer, off the per-record path, and it frees with MADV_REMOVE (which punches a hole in the
   /dev/shm file: MADV_DONTNEED alone only drops this process's page-table entries of a shared
   mapping, the pages stay in the file) every whole page whose bytes are all free, that is, all in
   the window of positions `[write_pos - capacity, read_pos)`: below read_pos the consumer is done
   with them (it stores read_pos only after copying records out, point 4), and at or above
   write_pos - capacity the producer has not written their next lap yet. The unreleased bytes
   `[read_pos, write_pos)` are the complement of that window within the last lap, so a hole never
   covers a byte the consumer has not released, even partly: a page that holds one unreleased byte
   is kept. Only the producer writes the data area and `trim` never runs during a put (one thread,
   or the caller's lock: `RingAdmission`), so no write can race with a punch; a later put into a
   punched page faults in a zeroed page, which it then overwrites (records are written whole, header
   and payload, before write_pos publishes them, point 3). The consumer never reads below read_pos
   nor at or above write_pos, so it never sees a hole. The control block shares page 0 with the
   first data bytes and page 0 is never punched. Adoption is unaffected: a hole is only ever in free
   space (skipped bytes included), and the control words are never touched; a punch that a crash
   interrupts has freed some free pages and not others. Cost: a page given back is faulted in again
   (4 KiB zeroed by the kernel, about 1 us per KiB in all) when the producer next writes it, a lap
   later, so it is done rarely and in bulk (at least `TRIM_BYTES` at a time, or whatever is left
   once the ring is empty), and not at all while the ring streams faster than the caller's `busy`
   threshold: under a heavy load a ring stays resident up to its capacity, and gives its pages back
   at the first timer tick after the load calms down. The warm region (the first `warm_bytes` of the
   data area, point 8) is left out of those punches while the producer writes, so that at light load
   it writes into pages that are already there; a `trim` that finds the ring empty and nothing
   written since the previous one (the producer idle for a whole timer interval) punches the warm
   region too, by the same window rule (all of the data area is free then), so an idle ring is back
   to a page or two. A ring that is idle but not empty (a backend down) keeps its warm pages till it
   is.

8. Early wrap (producer only, a policy: the consumer needs no knowledge of it). Written linearly, a
   64 MiB ring goes round once per 32 s at 2 MB/s, so every page the producer writes was given back
   by `trim` since its last lap and costs a fault and a zeroed page (about nine per request at 10k
   spans/s). So when a record would not end, with room for a marker header after it, inside the
   warm region, and the ring is lightly loaded (the backlog `write_pos - read_pos` is at most half
   the warm region), the producer writes a skip marker at write_pos and puts the record at the start
   of the next lap, provided it fits there now (`next_lap_start + size <= read_pos + capacity` for
   the read_pos it loaded: the consumer has released the bytes there). A marker is a record whose
   bytes are its own reserved space, so points 1-4 hold unchanged: the producer stores the marker
   header and the record, then next_seq, then write_pos once, covering both; the consumer, finding
   a marker at its cursor (the pos check, and the CRC over the header in checksum mode, exactly as
   for a record), moves its cursor to the lap start and reads the record there; it never reads the
   skipped bytes. Releasing: read_pos may stop at a marker (the record before it released, the one
   after it not), and the marker carries the next record's seq, so read_seq stays "the seq of the
   first unreleased record". A marker is released with what comes before it: `release_to(end)` at
   a marker the consumer has stepped over extends to the lap start, and `next_record` stepping over
   a marker at read_pos releases it at once; so its bytes never wait for the record after it, and
   `trim` (point 7) gets them back. Under a heavy load (a larger backlog), or when the lap start is
   not free yet, the producer writes on linearly: `try_put` refuses only when
   `write_pos + size > read_pos + capacity`, as before.
   The cost, and why the backlog limit: the skipped bytes count as used until what comes before
   them is released. If the consumer stops releasing right after an early wrap (a backend goes
   down within the ~200 ms a batch is held), the records before the marker pin it, and until they
   are delivered the ring holds only about a warm region's worth (the old lap's records plus what
   fits below read_pos in the new lap) instead of its capacity; receivers refuse with a retryable
   status meanwhile, nothing is lost, and the whole capacity is back once they are released.
   A load that rises right after a wrap meets the same limit. So a producer that had to refuse a
   record stops wrapping early for `early_wrap_pause` seconds (`EARLY_WRAP_PAUSE`): a pin costs at
   most one round of retryable refusals, and a load that stays heavy, or comes in bursts after
   clients back off, uses the whole capacity. The backlog limit (half the warm region) keeps what a
   pin leaves usable at half of it or more.

Sequence numbers live in shared memory, so a restarted producer continues them. A producer killed
between storing next_seq and write_pos leaves a gap in seq (never a duplicate). Only one producer
and one consumer may be attached at a time; the supervisor starts a replacement only after the
previous process has died.
"""

from __future__ import annotations

import mmap
import platform
import secrets
import struct
import sys
import threading
import time
import zlib
from multiprocessing import resource_tracker
from multiprocessing.shared_memory import SharedMemory
from typing import Final, NamedTuple

from collector.runtime.ring_doorbell import Doorbell

__all__ = [
    "Doorbell",
    "RECORD_HEADER_SIZE",
    "RECORD_METADATA",
    "Record",
    "RecordHeader",
    "Ring",
    "RingCorruptError",
    "record_size",
]

MAGIC: Final = int.from_bytes(b"CRING\x00\x03\x00", "little")
# Format 2 had no skip markers. A ring of that format (left by an older collector) is read as it is,
# and its producer never writes a marker into it (`warm_bytes` 0), so it stays readable by format 2.
_MAGIC_V2: Final = int.from_bytes(b"CRING\x00\x02\x00", "little")
CONTROL_SIZE: Final = 256
_FLAG_CHECKSUM: Final = 1
RECORD_METADATA: Final = 1  # record header flag: a client-metadata block precedes the payload
RECORD_SKIP: Final = 0x80  # record header flag: no record, the producer went on at the next lap (early wrap)

# Word indexes (8-byte units) in the control block.
_W_MAGIC: Final = 0
_W_CAPACITY: Final = 1
_W_FLAGS: Final = 2
_W_WRITE: Final = 8
_W_SEQ: Final = 9
_W_LAST_SKIP: Final = 10
_W_READ: Final = 16
_W_READ_SEQ: Final = 17

# pos, seq, arrival_ns, length, component, signal, flags, items, crc
_HEADER: Final = struct.Struct("=QQQIHBBII")
_HEADER_PREFIX: Final = struct.Struct("=QQQIHBBI")  # the 36 bytes the CRC covers before the payload
RECORD_HEADER_SIZE: Final = _HEADER.size  # 40
_MIN_CAPACITY: Final = 64
_MAX_CAPACITY: Final = 1 << 32  # so that a payload length always fits the u32 length field
_PAGE: Final = mmap.PAGESIZE
# `trim` gives pages back in runs of at least this many freed bytes (or all that is free once the ring
# is empty): one madvise per MiB the consumer has passed keeps the syscalls and re-faults rare.
TRIM_BYTES: Final = 1 << 20
# The warm region: the data area's share of the first WARM_BYTES of the segment (at most an eighth
# of a small ring, whole pages) is where the producer writes at light load, wrapping early instead of
# going on into the rest of the ring, and `trim` keeps its pages while the producer writes. It must
# hold the light-load backlog with room to spare: the worker releases a record only once it has handed
# it on, and a batch processor holds about 200 ms of data (at 10k spans/s, ~2 MB/s, ~0.4 MB). The
# producer wraps early only while the backlog is at most half the region (`_early_wrap`), so above
# about 20 MB/s it writes linearly through the whole capacity as before. Its size is also what a ring
# keeps for an outage that starts just after an early wrap (point 8): at least half of it, usually
# most of it, seconds of light-load traffic; hence 8 MiB rather than just the backlog's size.
WARM_BYTES: Final = 8 << 20
# After a refused put the producer writes linearly for this long (point 8): a load that needed the
# whole capacity once is likely to need it again soon.
EARLY_WRAP_PAUSE: Final = 60.0


def warm_bytes(capacity: int) -> int:
    """The warm region of a ring of `capacity` bytes (0: the ring is too small to have one). It ends on
    a page boundary of the segment, so that `trim` can give back the pages on either side of it."""
    pages = min(WARM_BYTES, capacity // 8) // _PAGE
    return pages * _PAGE - CONTROL_SIZE if pages else 0


def record_size(length: int) -> int:
    """Bytes a record with a `length`-byte payload takes in the ring."""
    return (RECORD_HEADER_SIZE + length + 7) & -8


def _default_checksum() -> bool:
    return platform.machine().lower() not in ("x86_64", "amd64")


class RingCorruptError(RuntimeError):
    """The ring holds something that is not a record where one must be (a bug or a foreign writer)."""


class RecordHeader(NamedTuple):
    signal: int  # u8
    component: int  # u16: code of the receiving component
    arrival_ns: int  # u64
    items: int = 0  # u32: items in the payload (0 if unknown)
    flags: int = 0  # u8: RECORD_METADATA


class Record(NamedTuple):
    seq: int
    header: RecordHeader
    data: bytes
    end: int  # position just after this record: pass it to `release_to`


_new_tuple: Final = tuple.__new__  # NamedTuple's own __new__ is a Python function: 3x slower

_TRACKER_LOCK = threading.Lock()


def _no_register(name: object, rtype: str) -> None:
    return None


def _attach_untracked(name: str) -> SharedMemory:
    """Open an existing segment without handing it to this process's resource tracker.

    Python < 3.13 registers every attached segment and unlinks it when the attaching process exits,
    which would destroy the ring under the supervisor (and spawn a tracker process per child).
    """
    if sys.version_info >= (3, 13):
        return SharedMemory(name, track=False)  # type: ignore[call-arg,unused-ignore]
    with _TRACKER_LOCK:
        original = resource_tracker.register
        resource_tracker.register = _no_register
        try:
            return SharedMemory(name)
        finally:
            resource_tracker.register = original


def _create(name: str, size: int, tracked: bool) -> SharedMemory:
    if tracked:
        return SharedMemory(name, create=True, size=size)
    if sys.version_info >= (3, 13):
        return SharedMemory(name, create=True, size=size, track=False)  # type: ignore[call-arg,unused-ignore]
    with _TRACKER_LOCK:
        original = resource_tracker.register
        resource_tracker.register = _no_register
        try:
            return SharedMemory(name, create=True, size=size)
        finally:
            resource_tracker.register = original


class Ring:
    """One end (or both, in tests) of a ring. See the module docstring for layout and ordering."""

    __slots__ = ("_shm", "_owner", "name", "_idx", "capacity", "checksum", "_data", "_mm", "_cursor",
                 "_cursor_seq", "_put_limit", "_seen_write", "unsettled_reads", "_tracked", "_trimmed",
                 "_trim_write", "trimmed_bytes", "warm_bytes", "_warm_resident", "_wrap_retry",
                 "_refused_at", "early_wrap_pause")

    def __init__(self, shm: SharedMemory, *, owner: bool, tracked: bool = False) -> None:
        self._shm = shm
        self._owner = owner
        self._tracked = tracked  # registered with multiprocessing's resource tracker
        self.name: str = shm.name
        buf = shm.buf
        assert buf is not None
        if len(buf) < CONTROL_SIZE:
            shm.close()
            raise ValueError(f"shared memory {self.name!r} is not a ring")
        self._idx = buf[:CONTROL_SIZE].cast("Q")
        self.capacity: int = self._idx[_W_CAPACITY]
        problem = None
        magic = self._idx[_W_MAGIC]
        if magic != MAGIC and magic != _MAGIC_V2:
            problem = "is not a ring"
        elif CONTROL_SIZE + self.capacity > len(buf):
            problem = "is a truncated ring"
        if problem is not None:
            self._idx.release()
            shm.close()
            raise ValueError(f"shared memory {self.name!r} {problem}")
        self.checksum: bool = bool(self._idx[_W_FLAGS] & _FLAG_CHECKSUM)
        self._data = buf[CONTROL_SIZE : CONTROL_SIZE + self.capacity]
        # The mmap itself for the hot paths: slicing it copies straight into a new bytes object.
        self._mm = shm._mmap  # type: ignore[attr-defined]
        # Consumer-private read cursor and the seq of the record at it.
        self._cursor: int = self._idx[_W_READ]
        self._cursor_seq: int = self._idx[_W_READ_SEQ]
        self._seen_write: int = self._cursor  # consumer-private: write_pos as last seen
        self._put_limit: int = 0  # producer-private: read_pos + capacity as last seen
        self.unsettled_reads = 0  # checksum mode: records seen before they were fully visible
        self._trimmed: int = 0  # producer-private: positions below this were given back (or never used)
        self._trim_write: int = self._idx[_W_WRITE]  # producer-private: write_pos at the previous trim
        self.trimmed_bytes = 0  # producer-private: bytes given back to the kernel so far
        # Producer policy, not format (a consumer needs neither): where light-load records cycle.
        self.warm_bytes: int = warm_bytes(self.capacity) if magic == MAGIC else 0
        self._warm_resident = True  # producer-private: the warm region may hold pages (unknown at attach)
        self._wrap_retry: int = 0  # producer-private: no early wrap is tried below this position
        self._refused_at = 0.0  # producer-private: when `try_put` last refused (monotonic), 0 if never
        self.early_wrap_pause = EARLY_WRAP_PAUSE

    # --- lifecycle ---------------------------------------------------------------------------
    @classmethod
    def create(cls, capacity: int, name: str | None = None, *, checksum: bool | None = None,
               tracked: bool = True) -> Ring:
        """Create and initialise a segment (owner side). `capacity` is rounded up to a multiple of 8.

        `tracked=False` keeps the segment away from multiprocessing's resource tracker, which would
        unlink it when this process dies: the supervisor's rings must outlive a SIGKILL so that its
        successor can adopt them (`collector.runtime.adoption`).
        """
        if not _MIN_CAPACITY <= capacity <= _MAX_CAPACITY:
            raise ValueError(f"ring capacity must be between {_MIN_CAPACITY} and {_MAX_CAPACITY} bytes")
        capacity = (capacity + 7) & -8
        if checksum is None:
            checksum = _default_checksum()
        if name is None:
            name = f"collector-ring-{secrets.token_hex(6)}"
        shm = _create(name, CONTROL_SIZE + capacity, tracked)
        assert shm.buf is not None
        idx = shm.buf[:CONTROL_SIZE].cast("Q")
        idx[_W_CAPACITY] = capacity
        idx[_W_FLAGS] = _FLAG_CHECKSUM if checksum else 0
        idx[_W_MAGIC] = MAGIC  # last: an attacher that sees the magic sees the rest
        idx.release()
        return cls(shm, owner=True, tracked=tracked)

    @classmethod
    def attach(cls, name: str) -> Ring:
        return cls(_attach_untracked(name), owner=False)

    def close(self) -> None:
        if self._shm.buf is None:
            return
        self._idx.release()
        self._data.release()
        self._shm.close()

    def unlink(self) -> None:
        """Destroy the segment name (owner); processes that have it mapped keep their mapping."""
        if self._tracked:
            self._shm.unlink()
        else:  # SharedMemory.unlink would also tell a resource tracker that never heard of it
            from _posixshmem import shm_unlink  # type: ignore[import-not-found]

            shm_unlink(self._shm._name)  # type: ignore[attr-defined]

    def __enter__(self) -> Ring:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        if self._owner:
            self.unlink()

    # --- producer ----------------------------------------------------------------------------
    def try_put(self, header: RecordHeader, data: bytes | bytearray | memoryview) -> bool:
        """Append one record; False if it does not fit now. Never blocks.

        Raises ValueError if the record could never fit (larger than the whole ring).
        """
        if type(data) is not bytes:
            data = memoryview(data).cast("B")
        n = len(data)
        size = (RECORD_HEADER_SIZE + n + 7) & -8
        cap = self.capacity
        if size > cap:
            raise ValueError(f"record of {n} bytes can never fit a ring of {cap} bytes")
        idx = self._idx
        w = idx[_W_WRITE]
        off = w % cap
        seq = idx[_W_SEQ]
        skip_at = -1
        warm = self.warm_bytes
        if off + size + RECORD_HEADER_SIZE > warm and off and warm and w >= self._wrap_retry:
            # Leaving the warm region (with room for a marker after it, so that a marker never
            # touches a page past it): at light load start the next lap instead (point 8).
            skip_at = self._early_wrap(w, off, size)
            if skip_at >= 0:
                w += cap - off
                off = 0
        if w + size > self._put_limit:
            # Only now look at the consumer's word again: most puts skip that shared cache line.
            self._put_limit = idx[_W_READ] + cap
            if w + size > self._put_limit:
                self._refused_at = time.monotonic()
                return False
        if skip_at >= 0:
            self._write_skip(skip_at, seq)
        signal, component, arrival_ns, items, flags = header
        crc = 0
        if self.checksum:
            crc = zlib.crc32(data, zlib.crc32(_HEADER_PREFIX.pack(w, seq, arrival_ns, n, component, signal, flags,
                                                                  items)))
        if off + size <= cap:
            mm = self._mm
            at = CONTROL_SIZE + off
            _HEADER.pack_into(mm, at, w, seq, arrival_ns, n, component, signal, flags, items, crc)
            at += RECORD_HEADER_SIZE
            mm[at : at + n] = data
        else:
            self._write_wrapped(off, _HEADER.pack(w, seq, arrival_ns, n, component, signal, flags, items, crc))
            self._write_wrapped((off + RECORD_HEADER_SIZE) % cap, data)
        idx[_W_SEQ] = seq + 1
        idx[_W_WRITE] = w + size  # publish: everything above is now visible to the consumer
        if skip_at >= 0:  # after publishing: a producer killed before it never names an unpublished marker
            idx[_W_LAST_SKIP] = skip_at + 1
        return True

    def _early_wrap(self, w: int, off: int, size: int) -> int:
        """Where to write a skip marker so that the next record starts the next lap, or -1 to go on.

        Only at light load: the backlog (`w - read_pos`) is at most half the warm region, so the bytes
        skipped are given back by the consumer as soon as it has handed on the last few records before
        them. And only if the record fits at the start of the next lap now (the consumer has released
        the bytes there); otherwise the producer writes on linearly and the whole capacity stays usable.
        """
        cap = self.capacity
        if cap - off < RECORD_HEADER_SIZE:
            return -1  # no room for the marker: the record starts the next lap by wrapping anyway
        if self._refused_at and time.monotonic() - self._refused_at < self.early_wrap_pause:
            return -1  # refused a record recently: the whole capacity may be needed (point 8)
        limit = self._put_limit
        for _ in range(2):  # the cached limit first; look at the consumer's word only if it says no
            read = limit - cap
            if w - read <= self.warm_bytes // 2 and w + (cap - off) + size <= limit:
                self._put_limit = limit
                return w
            limit = self._idx[_W_READ] + cap
        self._put_limit = limit
        # Not now: write on linearly, and ask again only some way on (or after the next `trim`), so that
        # a loaded producer does not load the consumer's cache line on every put.
        self._wrap_retry = w + max(self.warm_bytes // 8, _PAGE)
        return -1

    def _write_skip(self, w: int, seq: int) -> None:
        """The skip marker at `w`: a record header whose length covers the rest of the lap, carrying the
        seq of the record after it (what read_seq must be once it is released)."""
        n = self.capacity - w % self.capacity - RECORD_HEADER_SIZE
        crc = 0
        if self.checksum:
            crc = zlib.crc32(_HEADER_PREFIX.pack(w, seq, 0, n, 0, 0, RECORD_SKIP, 0))
        _HEADER.pack_into(self._mm, CONTROL_SIZE + w % self.capacity, w, seq, 0, n, 0, 0, RECORD_SKIP, 0, crc)

    def _write_wrapped(self, off: int, chunk: bytes | memoryview) -> None:
        d = self._data
        n = len(chunk)
        first = self.capacity - off
        if n <= first:
            d[off : off + n] = chunk
        else:
            view = memoryview(chunk)
            d[off:] = view[:first]
            d[: n - first] = view[first:]

    def trim(self, minimum: int = TRIM_BYTES, busy: int | None = None) -> int:
        """Producer: give the kernel back the pages of the bytes the consumer released (point 7).

        Gives back nothing unless at least `minimum` bytes were released since the last trim or the
        ring is empty, nor while the ring is busy: more than `busy` bytes written since the previous
        call (a page given back costs a fault, about 1 us per KiB, when the producer writes it again
        a lap later: a ring that streams faster than that threshold keeps its pages until it calms
        down). The warm region's pages are kept while the producer writes, and given back by a call
        that finds the ring empty and nothing written since the previous call. Returns the bytes
        given back (whole pages; pages never touched count too).
        """
        idx = self._idx
        w = idx[_W_WRITE]
        written, self._trim_write = w - self._trim_write, w
        self._wrap_retry = 0  # a timer tick: the load may have changed, the next put may wrap early
        if busy is not None and written > busy:
            self._warm_resident = True
            return 0
        r = idx[_W_READ]
        cap = self.capacity
        warm = self.warm_bytes
        freed = 0
        start = max(self._trimmed, w - cap)
        if r - start >= minimum or (r == w and r > start):
            for begin, stop in self._offset_runs(start, r):
                freed += self._punch(max(begin, warm), stop)
            # Resume at the start of r's page: its free bytes below r go with the next run.
            self._trimmed = max(start, r - (CONTROL_SIZE + r % cap) % _PAGE)
        if written:
            self._warm_resident = True
        elif r == w and warm and self._warm_resident:  # an idle producer and an empty ring: all of it
            for begin, stop in self._offset_runs(max(0, w - cap), r):
                freed += self._punch(begin, min(stop, warm))
            self._warm_resident = False
        self.trimmed_bytes += freed
        return freed

    def _offset_runs(self, lo: int, hi: int) -> tuple[tuple[int, int], ...]:
        """The positions [lo, hi) (at most a capacity) as at most two runs [begin, stop) of data offsets."""
        if hi <= lo:
            return ()
        cap = self.capacity
        off = lo % cap
        first = min(hi - lo, cap - off)
        return ((off, off + first), (0, hi - lo - first))

    def _punch(self, begin: int, stop: int) -> int:
        """Give back the whole pages within data offsets [begin, stop); the bytes given back."""
        lo = -(-(CONTROL_SIZE + begin) // _PAGE) * _PAGE  # whole pages only: round inwards
        hi = (CONTROL_SIZE + stop) // _PAGE * _PAGE
        if hi <= lo:
            return 0
        self._mm.madvise(mmap.MADV_REMOVE, lo, hi - lo)
        return hi - lo

    # --- consumer ----------------------------------------------------------------------------
    def next_record(self) -> Record | None:
        """The record at the private cursor, or None if there is none (yet). Steps over skip markers;
        frees no space but a marker's (point 8)."""
        c = self._cursor
        w = self._seen_write
        if c == w:
            # Look at the producer's word only when the known backlog is used up.
            w = self._seen_write = self._idx[_W_WRITE]
            if c == w:
                return None
        cap = self.capacity
        mm = self._mm
        off = c % cap
        if off + RECORD_HEADER_SIZE <= cap:
            pos, seq, arrival_ns, n, component, signal, flags, items, crc = _HEADER.unpack_from(mm, CONTROL_SIZE + off)
        else:
            pos, seq, arrival_ns, n, component, signal, flags, items, crc = _HEADER.unpack(
                self._read_wrapped(off, RECORD_HEADER_SIZE)
            )
        end = c + ((RECORD_HEADER_SIZE + n + 7) & -8)
        if pos != c or end > w:
            self._unsettled(c, w)
            return None
        if flags & RECORD_SKIP:
            return self._step_over_skip(c, end, seq, _HEADER_PREFIX.pack(pos, seq, arrival_ns, n, component, signal,
                                                                         flags, items), crc)
        start = off + RECORD_HEADER_SIZE
        if start + n <= cap:
            start += CONTROL_SIZE
            data = mm[start : start + n]
        else:
            data = self._read_wrapped(start % cap, n)
        if self.checksum and zlib.crc32(
            data, zlib.crc32(_HEADER_PREFIX.pack(pos, seq, arrival_ns, n, component, signal, flags, items))
        ) != crc:
            self._unsettled(c, w)
            return None
        self._cursor = end
        self._cursor_seq = seq + 1
        return _new_tuple(Record, (seq, _new_tuple(RecordHeader, (signal, component, arrival_ns, items, flags)), data,
                                   end))

    def _step_over_skip(self, c: int, end: int, seq: int, prefix: bytes, crc: int) -> Record | None:
        """A skip marker at the cursor `c`: move on to the record after it (published with it, so there
        is one). If everything before the marker is released already, its bytes go with it now: nothing
        else would release them before that record is handed on (point 8)."""
        if self.checksum and zlib.crc32(prefix) != crc:
            self._unsettled(c, self._seen_write)
            return None
        if end % self.capacity:  # only a producer bug or a foreign writer puts a marker anywhere else
            raise RingCorruptError(f"ring {self.name}: skip marker at {c} does not end at a lap boundary")
        idx = self._idx
        if idx[_W_READ] == c:
            idx[_W_READ_SEQ] = seq
            idx[_W_READ] = end
        self._cursor = end
        self._cursor_seq = seq
        return self.next_record()

    def _read_wrapped(self, off: int, n: int) -> bytes:
        d = self._data
        first = self.capacity - off
        if n <= first:
            return bytes(d[off : off + n])
        return b"".join((d[off:], d[: n - first]))

    def _unsettled(self, cursor: int, write_pos: int) -> None:
        if self.checksum:
            # Weakly ordered CPU: the producer's stores are not all visible yet. Try again later.
            self.unsettled_reads += 1
            return None
        raise RingCorruptError(f"ring {self.name}: no valid record at position {cursor} (write position {write_pos})")

    def release_to(self, end: int) -> None:
        """Free every record before `end` (a record's `end`, or the committed position). Monotonic."""
        idx = self._idx
        r = idx[_W_READ]
        if end == r:
            return
        if end < r or end > self._cursor:
            raise ValueError(f"release_to({end}) outside the read but unreleased range [{r}, {self._cursor}]")
        if end == self._cursor:
            seq = self._cursor_seq
        else:
            off = end % self.capacity
            if off + RECORD_HEADER_SIZE <= self.capacity:
                pos, seq, _, n, _, _, flags, _, _ = _HEADER.unpack_from(self._data, off)
            else:
                pos, seq, _, n, _, _, flags, _, _ = _HEADER.unpack(self._read_wrapped(off, RECORD_HEADER_SIZE))
            if pos != end:
                raise ValueError(f"release_to({end}) is not a record boundary")
            if flags & RECORD_SKIP:  # the consumer has stepped over it: the skipped bytes go too
                end += (RECORD_HEADER_SIZE + n + 7) & -8
        idx[_W_READ_SEQ] = seq
        idx[_W_READ] = end  # after this store the producer may overwrite everything before `end`

    def rewind(self) -> None:
        """Move the private cursor back to the committed position: unreleased records come again."""
        self._cursor = self._idx[_W_READ]
        self._cursor_seq = self._idx[_W_READ_SEQ]

    @property
    def committed_position(self) -> int:
        return int(self._idx[_W_READ])

    @property
    def read_position(self) -> int:
        """The consumer's private cursor (end of the last record returned by `next_record`)."""
        return self._cursor

    # --- observation (any process; values may be a moment old) ---------------------------------
    def used_bytes(self) -> int:
        """Bytes of records published and not released: the space in use but for the bytes skipped
        by the latest marker, which hold no record (point 8)."""
        idx = self._idx
        r, w, skip = idx[_W_READ], idx[_W_WRITE], idx[_W_LAST_SKIP] - 1
        used = w - r
        if r <= skip < w:
            used -= self.capacity - skip % self.capacity
        return int(max(used, 0))

    def free_bytes(self) -> int:
        """Room for records now: `record_size(n) <= free_bytes()` is when `try_put` takes n bytes."""
        return int(self.capacity - (self._idx[_W_WRITE] - self._idx[_W_READ]))

    def pending_records(self) -> int:
        """Records published and not yet released (approximate while both ends are running)."""
        return max(0, int(self._idx[_W_SEQ] - self._idx[_W_READ_SEQ]))

    @property
    def next_seq(self) -> int:
        return int(self._idx[_W_SEQ])

    def __repr__(self) -> str:
        return f"Ring(name={self.name!r}, capacity={self.capacity}, used={self.used_bytes()})"
