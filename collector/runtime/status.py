"""Child -> supervisor status channel: one JSON object per line on an inherited pipe.

Events: `{"event": "ready"}` once the child's components have started, `{"event": "health",
"component": id, "state": ..., "message": ...}` on every health change, `{"event": "stopping"}`.
Writes are small (< PIPE_BUF) and therefore atomic; a full pipe (supervisor not reading) drops the
event rather than blocking the child's event loop.
"""

from __future__ import annotations

import os
from typing import Any

import orjson


class StatusChannel:
    def __init__(self, fd: int | None) -> None:
        self._fd = fd
        if fd is not None:
            os.set_blocking(fd, False)

    def __call__(self, event: dict[str, Any]) -> None:
        if self._fd is None:
            return
        line = orjson.dumps(event) + b"\n"
        try:
            os.write(self._fd, line[: 4000])
        except (BlockingIOError, BrokenPipeError):
            pass


class StatusReader:
    """Splits the bytes read from a child's status pipe into decoded events."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        events = []
        for line in lines:
            if line.strip():
                try:
                    events.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
        return events
