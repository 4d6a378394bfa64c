"""`collector top`: a terminal view of a running collector, read through its admin API.

Components with their health and items/s in and out, then processes with CPU, RSS and ring fill,
redrawn every second; `q` (or Ctrl-C) quits. Everything shown comes from the same JSON API as the
web UI (`/api/v0/web/components`, `/api/v0/web/processes`, `/api/v0/web/status`), so `top` needs
nothing but network access to the admin address. Drawing is rich's (tables, colours, a full-screen
live display); `render` is a pure function of one snapshot, which is what the tests look at.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from collector.support.client import AdminClient
from collector.web.svg import format_rate  # the graph's spelling of a rate

HEALTH_STYLES = {"healthy": "green", "unhealthy": "bold red", "unknown": "dim", "exited": "red"}


@dataclass
class Snapshot:
    address: str
    components: list[dict[str, Any]]
    processes: list[dict[str, Any]]
    status: dict[str, Any]
    taken: float


def fetch_snapshot(admin: AdminClient | str, timeout: float = 5.0) -> Snapshot:
    """One reading of the admin API; raises OSError when the collector cannot be reached (or
    refuses the credentials: urllib's HTTPError is an OSError)."""
    client = as_client(admin)

    def get(path: str) -> Any:
        return json.loads(client.get(path, timeout=timeout))

    return Snapshot(client.base_url, get("/api/v0/web/components"), get("/api/v0/web/processes"),
                    get("/api/v0/web/status"), time.time())


def as_client(admin: AdminClient | str) -> AdminClient:
    """An address (`host:port` or a base URL) without credentials, or a configured client."""
    if isinstance(admin, AdminClient):
        return admin
    return AdminClient(admin.rstrip("/") if admin.startswith(("http://", "https://")) else f"http://{admin}")


def format_bytes(value: float | None) -> str:
    if value is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _percent(value: float | None, scale: float = 1.0) -> str:
    return "—" if value is None else f"{value * scale:.1f} %"


def render(snapshot: Snapshot) -> RenderableType:
    """One frame: a status line, the components table and the processes table."""
    status = snapshot.status
    ready = Text("ready", style="green") if status.get("ready") else Text("not ready", style="bold red")
    header = Text.assemble(
        ("collector ", "bold"), (snapshot.address, "cyan"), " · ", ready,
        f" · {status.get('components', len(snapshot.components))} components"
        f" · config {str(status.get('configHash', ''))[:12]}"
        f" · {time.strftime('%H:%M:%S', time.localtime(snapshot.taken))}   (q quits)")
    components = Table(title="Components", title_justify="left", expand=True, pad_edge=False)
    components.add_column("Component", no_wrap=True, overflow="ellipsis", ratio=3, min_width=32)
    components.add_column("Kind", no_wrap=True)
    components.add_column("Health", no_wrap=True)
    components.add_column("In", justify="right", no_wrap=True)
    components.add_column("Out", justify="right", no_wrap=True)
    components.add_column("Message", overflow="ellipsis", no_wrap=True, ratio=2)
    for doc in snapshot.components:
        health = doc["health"]
        rates = doc.get("itemsPerSecond", {})
        components.add_row(doc["localID"], doc.get("kind", ""),
                           Text(health["state"], style=HEALTH_STYLES.get(health["state"], "")),
                           format_rate(rates.get("in")), format_rate(rates.get("out")),
                           Text(health.get("message", ""), style="dim"))
    processes = Table(title="Processes", title_justify="left", expand=True, pad_edge=False)
    for name, justify in (("Process", "left"), ("PID", "right"), ("State", "left"), ("Restarts", "right"),
                          ("CPU", "right"), ("RSS", "right"), ("Ring fill", "right")):
        processes.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in snapshot.processes:
        state = ("ready" if row.get("ready") else "starting") if row.get("running") else "not running"
        processes.add_row(row["key"], str(row.get("pid") or "—"),
                          Text(state, style="green" if state == "ready" else "yellow"), str(row.get("restarts", 0)),
                          _percent(row.get("cpuPercent")), format_bytes(row.get("rssBytes")),
                          _percent(row.get("ringFill"), 100.0))
    return Group(header, components, processes)


def unreachable(address: str, error: Exception) -> RenderableType:
    return Text.assemble(("collector ", "bold"), (address, "cyan"), " · ",
                         (f"cannot reach the admin API: {error}", "bold red"), "   (retrying; q quits)")


@contextmanager
def _keys() -> Iterator[int | None]:
    """Standard input in cbreak mode (single keys, no echo) while the view runs, if it is a terminal."""
    if not sys.stdin.isatty():
        yield None
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _wait_for_quit(fd: int | None, seconds: float) -> bool:
    """Sleep up to `seconds`; True if `q` was pressed meanwhile."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if fd is None:
            time.sleep(left)
            return False
        readable, _, _ = select.select([fd], [], [], left)
        if readable:
            key = os.read(fd, 32)
            if not key or b"q" in key.lower():
                return True
    return False


def run(admin: AdminClient | str, *, interval: float = 1.0, once: bool = False, console: Console | None = None) -> int:
    from rich.live import Live

    console = console or Console()
    client = as_client(admin)
    address = client.base_url
    if once:
        try:
            console.print(render(fetch_snapshot(client)))
        except (OSError, ValueError) as err:
            console.print(unreachable(address, err))
            return 1
        return 0
    try:
        with _keys() as fd, Live(console=console, screen=True, auto_refresh=False) as live:
            while True:
                try:
                    frame = render(fetch_snapshot(client))
                except (OSError, ValueError) as err:
                    frame = unreachable(address, err)
                live.update(frame, refresh=True)
                if _wait_for_quit(fd, interval):
                    return 0
    except OSError:  # the terminal went away (a closed window, a killed tmux pane)
        return 1
