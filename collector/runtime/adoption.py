"""Ring names, and adopting the rings a dead predecessor of this instance left in shared memory.

Theory of operation. A ring is named by the instance (a hash of the storage path, see
`collector.runtime.instance`), an epoch, and its coordinates:

    /dev/shm/collector-ring-i<instance id>-e<epoch>-<receiver>-<signal>-<worker>

so a successor with the same `--storage.path` finds them, and a collector with another storage path
never sees them. Only the holder of the instance lock looks at these names, so any ring found at
start-up was left by a predecessor that is gone: killed (SIGKILL, OOM) or stopped with SIGTERM while
a backend was down (the supervisor then keeps every ring that still holds records, see
`Supervisor.run`). Nothing in it is lost; records published and not settled are delivered again
(at-least-once: what the predecessor sent but had not settled arrives twice).

Per signal, the rings of the newest epoch are *reopened* when their geometry matches the new
topology exactly: the same receiver processes x workers, the same capacity. Receivers go on
producing at their write position, workers resume at the committed read position, exactly as after
a worker crash. Otherwise (worker or receiver counts or ring size changed, or older epochs still
draining), those rings are *drained*: fresh rings are created under a new epoch, and each leftover
ring (receiver r, worker w) is handed to worker `w % workers` of its signal as an extra source.
Nobody produces into it any more; the worker consumes it like any ring and settles its records
through the same acks, and the supervisor unlinks it once it is empty (`used_bytes() == 0`) and
drops it from the worker's spec. A drained metrics ring may go to a worker that does not own all of
its series (the resource hash routes by the new worker count): those samples can arrive out of
order for a remote-write backend. Records name their receiver by a code that is a pure function of
its ID, so the same configuration routes them the same way; a record whose receiver no longer exists
is counted as dropped (`collector_dropped_*{reason="receiver removed"}`) and logged by the worker.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Iterable

from collector.runtime.ring import Ring
from collector.runtime.settings import Topology
from collector.signals import Signal

log = logging.getLogger(__name__)

RING_PREFIX: Final = "collector-ring-"
SHM_DIR: Final = Path("/dev/shm")
_NAME = re.compile(r"^collector-ring-i([0-9a-f]+)-e(\d+)-(\d+)-([a-z]+)-(\d+)$")

RingKey = tuple[int, Signal, int]


@dataclass(frozen=True)
class RingName:
    instance: str
    epoch: int
    receiver: int
    signal: Signal
    worker: int

    @property
    def name(self) -> str:
        return ring_name(self.instance, self.epoch, self.receiver, self.signal, self.worker)

    @property
    def key(self) -> RingKey:
        return (self.receiver, self.signal, self.worker)


def ring_name(instance: str, epoch: int, receiver: int, signal: Signal, worker: int) -> str:
    return f"{RING_PREFIX}i{instance}-e{epoch}-{receiver}-{signal.value}-{worker}"


def parse_ring_name(name: str) -> RingName | None:
    match = _NAME.match(name)
    if match is None:
        return None
    ident, epoch, receiver, signal, worker = match.groups()
    try:
        sig = Signal(signal)
    except ValueError:
        return None
    return RingName(ident, int(epoch), int(receiver), sig, int(worker))


def find_rings(instance: str, shm_dir: Path = SHM_DIR) -> list[RingName]:
    """The rings of this instance present in shared memory."""
    if not shm_dir.is_dir():
        return []
    found = []
    for path in shm_dir.glob(f"{RING_PREFIX}i{instance}-*"):
        parsed = parse_ring_name(path.name)
        if parsed is not None and parsed.instance == instance:
            found.append(parsed)
    return sorted(found, key=lambda n: (n.epoch, n.signal.value, n.receiver, n.worker))


@dataclass
class AdoptedRing:
    """A leftover ring being drained by one worker of its signal."""

    name: RingName
    ring: Ring
    worker: int  # the worker of the new topology that drains it
    records: int  # unsettled records it held when adopted

    @property
    def signal(self) -> Signal:
        return self.name.signal

    @property
    def ring_name(self) -> str:
        return self.ring.name


@dataclass
class RingPlan:
    live: dict[RingKey, Ring] = field(default_factory=dict)
    reopened: set[RingKey] = field(default_factory=set)  # live rings that a predecessor left
    draining: list[AdoptedRing] = field(default_factory=list)
    adopted_records: dict[Signal, int] = field(default_factory=lambda: defaultdict(int))


def _capacity(ring_bytes: int) -> int:
    return (ring_bytes + 7) & -8


def plan_rings(instance: str, topology: Topology, found: Iterable[RingName]) -> RingPlan:
    """Attach what a predecessor left, decide reopen vs drain per signal, create what is missing."""
    plan = RingPlan()
    found = list(found)
    attached: dict[RingName, Ring] = {}
    for name in found:
        try:
            attached[name] = Ring.attach(name.name)
        except (OSError, ValueError) as exc:
            log.error("ignoring shared memory %s left by a predecessor: %s", name.name, exc)
    # Past every name found, those it could not attach included: they still hold their names, and a
    # new ring under one of them could not be created.
    epoch = max((n.epoch for n in found), default=-1) + 1
    by_signal: dict[Signal, dict[int, list[RingName]]] = defaultdict(lambda: defaultdict(list))
    for name in attached:
        by_signal[name.signal][name.epoch].append(name)
    for signal, count in topology.workers.items():
        epochs = by_signal.get(signal, {})
        wanted = {(r, w) for r in range(topology.receiver_processes) for w in range(count)}
        reuse: list[RingName] = []
        if epochs:
            newest = max(epochs)
            group = epochs[newest]
            if ({(n.receiver, n.worker) for n in group} == wanted
                    and all(attached[n].capacity == _capacity(topology.ring_bytes) for n in group)):
                reuse = group
        for name in reuse:
            ring = attached[name]
            plan.live[name.key] = ring
            plan.reopened.add(name.key)
            plan.adopted_records[signal] += ring.pending_records()
        reused = set(reuse)
        for group in epochs.values():
            for name in group:
                if name in reused:
                    continue
                ring = attached[name]
                plan.draining.append(AdoptedRing(name, ring, name.worker % count, ring.pending_records()))
                plan.adopted_records[signal] += ring.pending_records()
        if not reuse:
            for receiver, worker in sorted(wanted):
                key = (receiver, signal, worker)
                plan.live[key] = Ring.create(topology.ring_bytes, ring_name(instance, epoch, receiver, signal, worker),
                                             tracked=False)
    for name, ring in attached.items():
        if name.signal not in topology.workers:  # cannot happen with today's three signals
            ring.close()
    return plan
