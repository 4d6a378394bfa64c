"""Resource detectors `env` and `system`, as plain functions over injectable sources.

Each detector returns `{attribute: value}` or raises `DetectionError`; `detect_all` runs the
configured detectors in order and merges them so that the first detector to set a key wins (the
OpenTelemetry Collector's resourcedetection merge rule). Sources (hostname look-ups, files, the
platform) are parameters so tests need no real DNS or machine-id.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import unquote_plus

# OTEL_RESOURCE_ATTRIBUTES grammar accepted by the Collector's env detector: comma-separated
# `key=value` pairs, surrounding spaces trimmed, key without '=' or ',', value URL-query-encoded.
_PAIR = re.compile(r"^\s*([^=\s,][^=,]*?)\s*=\s*([^,]*?)\s*$")
ENV_VAR = "OTEL_RESOURCE_ATTRIBUTES"
DEPRECATED_ENV_VAR = "OTEL_RESOURCE"
MACHINE_ID_PATHS = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


class DetectionError(Exception):
    """A detector could not produce its attributes; the processor skips it (and logs why)."""


def parse_resource_attributes(text: str) -> dict[str, str]:
    """Parse `k1=v1,k2=v2` (URL-query-unescaped values). Empty text gives no attributes."""
    attributes: dict[str, str] = {}
    if not text.strip():
        return attributes
    for pair in text.split(","):
        match = _PAIR.match(pair)
        if match is None:
            raise DetectionError(f"invalid resource format: {pair.strip()!r}")
        key, raw = match.group(1), match.group(2)
        if len(key) > 256 or not key.isascii():
            raise DetectionError(f"invalid resource format: key {key[:32]!r} must be ASCII, at most 256 chars")
        try:
            value = unquote_plus(raw, errors="strict")
        except UnicodeDecodeError as exc:
            raise DetectionError(f"invalid resource format: cannot decode value of {key!r}: {exc}") from None
        attributes[key] = value
    return attributes


def detect_env(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    text = environ.get(ENV_VAR)
    if text is None:
        text = environ.get(DEPRECATED_ENV_VAR, "")
    return dict(parse_resource_attributes(text))


# --- system ------------------------------------------------------------------------------------
def _os_hostname() -> str:
    return socket.gethostname()


def _dns_hostname() -> str:
    name = socket.getfqdn(socket.gethostname())
    if not name:
        raise OSError("no fully qualified domain name")
    return name


def _cname_hostname() -> str:
    infos = socket.getaddrinfo(socket.gethostname(), None, flags=socket.AI_CANONNAME)
    for info in infos:
        if info[3]:
            return info[3].rstrip(".")
    raise OSError("no canonical name")


def _lookup_hostname() -> str:
    address = socket.gethostbyname(socket.gethostname())
    name = socket.gethostbyaddr(address)[0]
    return name.rstrip(".")


HOSTNAME_FUNCTIONS: dict[str, Callable[[], str]] = {
    "os": _os_hostname,
    "dns": _dns_hostname,
    "cname": _cname_hostname,
    "lookup": _lookup_hostname,
}

_OS_TYPES = (
    ("linux", "linux"), ("darwin", "darwin"), ("win32", "windows"), ("cygwin", "windows"),
    ("freebsd", "freebsd"), ("netbsd", "netbsd"), ("openbsd", "openbsd"), ("dragonfly", "dragonflybsd"),
    ("aix", "aix"), ("sunos", "solaris"), ("zos", "z_os"),
)
_ARCHES = {
    "x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm32",
    "armv6l": "arm32", "arm": "arm32", "i386": "x86", "i686": "x86", "x86": "x86", "ppc64le": "ppc64",
    "ppc64": "ppc64", "ppc": "ppc32", "s390x": "s390x", "ia64": "ia64",
}


def semconv_os_type(platform_name: str) -> str:
    for prefix, os_type in _OS_TYPES:
        if platform_name.startswith(prefix):
            return os_type
    return platform_name


def semconv_arch(machine: str) -> str:
    return _ARCHES.get(machine.lower(), machine.lower())


@dataclass
class SystemSources:
    """Where the system detector gets its facts; defaults read the real host."""

    hostname: dict[str, Callable[[], str]] = field(default_factory=lambda: dict(HOSTNAME_FUNCTIONS))
    machine_id_paths: Sequence[Path] = MACHINE_ID_PATHS
    platform_name: str = sys.platform
    machine: Callable[[], str] = platform.machine
    os_description: Callable[[], str] = lambda: _os_description()
    interfaces: Callable[[], tuple[list[str], list[str]]] = lambda: _interfaces()
    cpuinfo_path: Path = Path("/proc/cpuinfo")


def _os_description() -> str:
    uname = platform.uname()
    pretty = ""
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.partition("=")[2].strip().strip('"')
    except OSError:
        pass
    kernel = f"{uname.system} {uname.node} {uname.release} {uname.version} {uname.machine}"
    return f"{pretty} ({kernel})" if pretty else kernel


def _interfaces() -> tuple[list[str], list[str]]:
    """Non-loopback IPs and MACs (IEEE RA form, e.g. AC-DE-48-23-45-67), as the Collector reports them."""
    import psutil

    ips: list[str] = []
    macs: list[str] = []
    for name, addresses in psutil.net_if_addrs().items():
        for address in addresses:
            if address.family in (socket.AF_INET, socket.AF_INET6):
                ip = address.address.split("%")[0]
                if not (ip.startswith("127.") or ip == "::1"):
                    ips.append(ip)
            elif address.family == getattr(psutil, "AF_LINK", -1) and address.address:
                mac = address.address.upper().replace(":", "-")
                if mac != "00-00-00-00-00-00":
                    macs.append(mac)
    return ips, macs


def read_machine_id(paths: Iterable[Path]) -> str:
    for path in paths:
        try:
            value = path.read_text().strip()
        except OSError:
            continue
        if value:
            return value
    raise DetectionError("failed to obtain host.id: no machine-id file")


def resolve_hostname(sources: Sequence[str], functions: Mapping[str, Callable[[], str]]) -> str:
    """First source that succeeds wins; all failing is an error naming each failure."""
    failures = []
    for source in sources:
        try:
            name = functions[source]()
        except (OSError, UnicodeError, KeyError) as exc:
            failures.append(f"{source}: {exc}")
            continue
        if name:
            return name
        failures.append(f"{source}: empty hostname")
    raise DetectionError("all hostname sources failed: " + "; ".join(failures))


def _cpu_attributes(path: Path, enabled: frozenset[str]) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError:
        return {}
    first = text.split("\n\n", 1)[0]
    facts = {}
    for line in first.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            facts[key.strip()] = value.strip()
    wanted = {
        "host.cpu.vendor.id": facts.get("vendor_id"),
        "host.cpu.family": facts.get("cpu family"),
        "host.cpu.model.id": facts.get("model"),
        "host.cpu.model.name": facts.get("model name"),
        "host.cpu.stepping": facts.get("stepping"),
    }
    out: dict[str, Any] = {k: v for k, v in wanted.items() if k in enabled and v}
    cache = facts.get("cache size", "")
    if "host.cpu.cache.l2.size" in enabled and cache:
        number, _, unit = cache.partition(" ")
        if number.isdigit():
            out["host.cpu.cache.l2.size"] = int(number) * (1024 if unit.upper().startswith("K") else 1)
    return out


def detect_system(hostname_sources: Sequence[str], enabled: frozenset[str], sources: SystemSources) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if "host.name" in enabled:
        attributes["host.name"] = resolve_hostname(hostname_sources, sources.hostname)
    if "host.id" in enabled:
        attributes["host.id"] = read_machine_id(sources.machine_id_paths)
    if "os.type" in enabled:
        attributes["os.type"] = semconv_os_type(sources.platform_name)
    if "os.description" in enabled:
        attributes["os.description"] = sources.os_description()
    if "host.arch" in enabled:
        attributes["host.arch"] = semconv_arch(sources.machine())
    if "host.ip" in enabled or "host.mac" in enabled:
        ips, macs = sources.interfaces()
        if "host.ip" in enabled:
            attributes["host.ip"] = ips
        if "host.mac" in enabled:
            attributes["host.mac"] = macs
    if any(name.startswith("host.cpu.") for name in enabled):
        attributes.update(_cpu_attributes(sources.cpuinfo_path, enabled))
    return attributes


# --- running several -----------------------------------------------------------------------------
@dataclass
class Detection:
    attributes: dict[str, Any] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def merge_in_order(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for result in results:
        for key, value in result.items():
            merged.setdefault(key, value)
    return merged


def run_detector(
    name: str,
    *,
    hostname_sources: Sequence[str],
    enabled: frozenset[str],
    sources: SystemSources,
    environ: Mapping[str, str],
) -> dict[str, Any]:
    if name == "env":
        return detect_env(environ)
    if name == "system":
        return detect_system(hostname_sources, enabled, sources)
    raise DetectionError(f"detector {name!r} is not available on this host")


def detect_all(
    names: Sequence[str],
    *,
    hostname_sources: Sequence[str],
    enabled: frozenset[str],
    sources: SystemSources | None = None,
    environ: Mapping[str, str] | None = None,
    logger: logging.Logger | None = None,
) -> Detection:
    """Run detectors in order, skipping (and logging) failures; first detector to set a key wins."""
    sources = sources or SystemSources()
    environ = os.environ if environ is None else environ
    outcome = Detection()
    results = []
    for name in names:
        try:
            results.append(run_detector(name, hostname_sources=hostname_sources, enabled=enabled,
                                        sources=sources, environ=environ))
        except (DetectionError, OSError) as exc:
            outcome.failed.append(f"{name}: {exc}")
            if logger is not None:
                logger.warning("resource detector %s failed, skipping it: %s", name, exc)
    outcome.attributes = merge_in_order(results)
    return outcome
