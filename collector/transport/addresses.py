"""Listen addresses: which ones only this host can reach.

Both the OTLP listeners and the admin server warn when they listen beyond loopback without TLS or
authentication; they must agree on what loopback is.
"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback IP (127.0.0.0/8, ::1); a host name other than localhost is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
