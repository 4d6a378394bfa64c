"""Receiver ports are shared only inside one collector."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from collector.runtime.ports import PortError, PortGuard
from collector.testing.process import free_port


def test_a_second_claim_of_a_port_fails_naming_the_holder(tmp_path: Path) -> None:
    port = free_port()
    first = PortGuard.claim([("127.0.0.1", port)], "pid 1, --storage.path /a", lock_dir=tmp_path)
    try:
        with pytest.raises(PortError, match=f"port {port} is already served by another collector .*/a"):
            PortGuard.claim([("127.0.0.1", port)], "pid 2", lock_dir=tmp_path)
    finally:
        first.release()
    PortGuard.claim([("127.0.0.1", port)], "pid 2", lock_dir=tmp_path).release()


def test_a_port_another_process_listens_on_is_refused_even_with_reuse_port(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as an orphaned receiver's
        other.bind(("127.0.0.1", port))
        other.listen()
        with pytest.raises(PortError, match="address already in use"):
            PortGuard.claim([("127.0.0.1", port)], "me", wait=0.3, lock_dir=tmp_path)
