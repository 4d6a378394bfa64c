"""`collector support`: ask a running collector for its bundle and save it.

The admin server may serve TLS and ask for basic authentication (the `http` block); the password is
read from a file (or `COLLECTOR_SUPPORT_PASSWORD`), never from the command line, where `ps` shows it.
"""

from __future__ import annotations

import base64
import os
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PASSWORD_ENV = "COLLECTOR_SUPPORT_PASSWORD"


@dataclass(frozen=True)
class AdminClient:
    """How to reach the admin server: its base URL, optional basic-auth credentials and CA file."""

    base_url: str
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @classmethod
    def from_flags(cls, listen_addr: str, url: str | None, username: str | None, password_file: str | None,
                   ca_file: str | None) -> AdminClient:
        password = None
        if username is not None:
            password = (Path(password_file).read_text().rstrip("\n") if password_file
                        else os.environ.get(PASSWORD_ENV, ""))
        return cls((url or f"http://{listen_addr}").rstrip("/"), username, password, ca_file)

    def get(self, path: str, timeout: float) -> bytes:
        request = urllib.request.Request(self.base_url + path)
        if self.username is not None:
            token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        context = ssl.create_default_context(cafile=self.ca_file) if self.base_url.startswith("https:") else None
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return bytes(response.read())


def fetch_bundle(client: AdminClient, duration: float, output: str | None) -> Path:
    """Download `/-/support?duration=...` into `output` (default `collector-support-<UTC time>.zip`
    in the current directory). Raises OSError with the server's answer when it refuses."""
    path = Path(output or time.strftime("collector-support-%Y%m%dT%H%M%SZ.zip", time.gmtime()))
    try:
        body = client.get(f"/-/support?duration={duration:g}", timeout=duration + 60)
    except urllib.error.HTTPError as err:
        detail = err.read().decode("utf-8", errors="replace").strip()
        raise OSError(f"HTTP {err.code}: {detail}") from None
    except urllib.error.URLError as err:
        raise OSError(str(err.reason)) from None
    path.write_bytes(body)
    return path
