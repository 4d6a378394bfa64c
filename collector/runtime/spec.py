"""What the supervisor tells each child process: a JSON document passed as its only argument.

Children are fresh interpreters started with `subprocess` (not `fork`): gRPC and asyncio state never
crosses a fork, and every inherited file descriptor is named here explicitly (`pass_fds`).
"""

from __future__ import annotations

from typing import Literal

import msgspec


class RingSpec(msgspec.Struct, frozen=True):
    """One single-producer single-consumer ring: receiver process `receiver` -> worker `signal`/`worker`."""

    name: str
    receiver: int
    signal: str
    worker: int
    adopted: bool = False  # a predecessor's ring this worker drains; nobody produces into it


class ChildSpec(msgspec.Struct, frozen=True, kw_only=True):
    role: Literal["receiver", "worker"]
    index: int
    signal: str | None = None
    config_path: str
    http_listen_addr: str
    storage_path: str
    run_dir: str
    rings: list[RingSpec]
    doorbell_fds: dict[str, int]  # "traces/0" -> eventfd of that worker
    status_fd: int
    control_fd: int = 0  # where supervisor commands arrive: standard input, or a pipe in inline mode
    workers: dict[str, int]  # signal -> worker count
    receiver_processes: int
    shutdown_timeout: float
    supervisor_pid: int = 0  # the child exits at once if its parent is not (or no longer) this pid

    @property
    def title(self) -> str:
        if self.role == "worker":
            return f"worker {self.signal}/{self.index}"
        return f"receiver/{self.index}"


def doorbell_key(signal: str, worker: int) -> str:
    return f"{signal}/{worker}"


def encode(spec: ChildSpec) -> str:
    return msgspec.json.encode(spec).decode()


def decode(text: str) -> ChildSpec:
    return msgspec.json.decode(text, type=ChildSpec)
