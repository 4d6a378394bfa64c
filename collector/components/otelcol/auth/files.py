"""A small text file read again when it changes: `username_file`, `password_file`, `htpasswd.file`.

Alloy re-reads credential files when they change, so a rotated password takes effect without a
reload. Looking at the file's (mtime, size) on every request would cost a `stat` per request; the
check runs at most once per `interval` seconds instead, so a rotation is seen within that time.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Callable, Final

CHECK_INTERVAL: Final = 1.0


class WatchedFile:
    def __init__(self, path: str, *, interval: float = CHECK_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()  # the basic authenticator reads it from worker threads too
        self._checked = float("-inf")
        self._stamp: tuple[int, int] | None = None
        self._text = ""
        self.generation = 0  # grows each time the content was read again

    def read(self) -> str:
        """The file's text (trailing newline removed); raises OSError if it cannot be read."""
        now = self.clock()
        with self._lock:
            if now - self._checked < self.interval and self._stamp is not None:
                return self._text
            self._checked = now
            stat = os.stat(self.path)
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                with open(self.path, encoding="utf-8") as file:
                    self._text = file.read().rstrip("\r\n")
                self._stamp = stamp
                self.generation += 1
            return self._text
