"""deploy/collector.service is a unit systemd accepts as written: `systemd-analyze verify` exits 0
and prints nothing (unknown keys and unparsable values are only warnings there, so silence is the
check). systemd is installed from Debian when it is missing and we may (scripts/install-system-deps.sh);
otherwise the test is skipped with the reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "deploy" / "collector.service"
INSTALLED_PATH = "/opt/collector/bin/collector"  # where docs/deployment.md installs the venv


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None and os.geteuid() == 0:
        subprocess.run(["bash", str(REPO / "scripts" / "install-system-deps.sh"), "systemd"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed and cannot be installed here (not root, or apt-get failed): "
                    "run `bash scripts/install-system-deps.sh systemd` as root")
    return found


def test_unit_verifies_cleanly(tmp_path: Path) -> None:
    analyze = _systemd_analyze()
    text = UNIT.read_text()
    assert INSTALLED_PATH in text
    # verify checks that ExecStart's program exists: point it at this environment's `collector`
    executable = Path(sys.executable).parent / "collector"
    assert executable.exists(), executable
    unit = tmp_path / "collector.service"
    unit.write_text(text.replace(INSTALLED_PATH, str(executable)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stdout + result.stderr


def test_unit_keeps_what_the_collector_needs() -> None:
    """The settings the rings and the storage path depend on (docs/deployment.md explains each)."""
    settings = [line.strip() for line in UNIT.read_text().splitlines() if "=" in line and not line.startswith("#")]
    assert "Restart=on-failure" in settings
    assert "User=collector" in settings
    assert "EnvironmentFile=-/etc/default/collector" in settings
    assert "StateDirectory=collector" in settings and "ProtectSystem=strict" in settings
    assert "RemoveIPC=no" in settings  # rings in /dev/shm must survive a restart
    assert not any(s.startswith(("PrivateDevices=yes", "DynamicUser=yes")) for s in settings)
    assert "KillMode=mixed" in settings  # SIGTERM to the supervisor only: it orders the shutdown
    exec_start = next(s for s in settings if s.startswith("ExecStart="))
    assert "--config.file=${CONFIG_FILE}" in exec_start and "--storage.path=/var/lib/collector" in exec_start


def test_example_environment_file_names_real_settings() -> None:
    """Every COLLECTOR_* variable the example env file mentions is one the collector reads."""
    import re

    from collector.runtime import settings

    from collector.web.security import ALLOWED_HOSTS_ENV

    known = {*settings.ENV_WORKERS.values(), settings.ENV_RECEIVERS, settings.ENV_RING_BYTES, settings.ENV_WORKERS_MODE,
             settings.ENV_FORK_SERVER,
             ALLOWED_HOSTS_ENV}
    mentioned = set(re.findall(r"\b(COLLECTOR_[A-Z_]+)=", (REPO / "deploy" / "collector.env").read_text()))
    assert mentioned and mentioned <= known, mentioned - known
