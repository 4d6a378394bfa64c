"""A process's proportional memory (PSS) by kind, for the Processes page and API.

Read from /proc/<pid>/smaps_rollup (one short file, cheap enough for every UI tick): PSS divides
each shared page among the processes mapping it, so the sum over the collector's processes is what
the tree really costs. The kinds say where it goes: `anon` is the interpreter's heap, every imported
module's objects, buffers and caches; `file` is code and read-only data mapped from files (the
interpreter, extension modules such as grpc's); `shmem` is ring pages in /dev/shm, split between
the receiver and the worker of each ring. `bench/memory.py` gives the finer split per mapping.
"""

from __future__ import annotations

_FIELDS = {"Pss:": "pssBytes", "Pss_Anon:": "anonBytes", "Pss_File:": "fileBytes", "Pss_Shmem:": "shmemBytes"}


def pss_split(pid: int) -> dict[str, int] | None:
    """{"pssBytes", "anonBytes", "fileBytes", "shmemBytes"} of `pid`, or None if it cannot be read."""
    found: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                name, _, rest = line.partition(" ")
                key = _FIELDS.get(name)
                if key is not None:
                    found[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return found if "pssBytes" in found else None
