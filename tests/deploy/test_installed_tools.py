"""`collector loadgen` and `collector sink` work from a plain `pip install` of the project into a
fresh virtual environment outside the repository (no `bench/`, no editable install): `--help` of
both, and a short load from the installed generator into the installed sink, all counted.

The install needs the package index (or pip's cache / configured wheel directories); when pip
cannot reach it the test is skipped and says so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
import venv
from pathlib import Path

import pytest

from collector.testing.process import free_port
from collector.testing.sdk import wait_until

REPO = Path(__file__).resolve().parents[2]
_OFFLINE_SIGNS = ("Could not find a version that satisfies", "No matching distribution found",
                  "Failed to establish a new connection", "Temporary failure in name resolution",
                  "Network is unreachable", "Connection refused", "Read timed out", "ProxyError")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the project installed by `pip install <project>`; returns its bin directory."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "project"  # a copy: pip builds in the source tree, which must not be the shared checkout
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "*.egg-info", "build", "tests", "bench", "node_modules", ".pytest_cache",
        ".hypothesis", "data-collector", "docs"))
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / "bin"
    result = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(source)],
                            capture_output=True, text=True, cwd=base, timeout=1800)
    if result.returncode != 0:
        output = result.stdout + result.stderr
        if any(sign in output for sign in _OFFLINE_SIGNS):
            last = output.strip().splitlines()[-1] if output.strip() else ""
            pytest.skip(f"SKIPPED LOUDLY: pip cannot reach the package index to install the project ({last})")
        pytest.fail(f"pip install of the project failed:\n{output}")
    return bin_dir


def _run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(bin_dir / "collector"), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def test_help_of_loadgen_and_sink_from_an_installed_package(installed: Path, tmp_path: Path) -> None:
    loadgen = _run(installed, "loadgen", "--help", cwd=tmp_path)
    assert loadgen.returncode == 0, loadgen.stderr
    for flag in ("--signal", "--protocol", "--endpoint", "--rate", "--duration", "--concurrency", "--retry-for",
                 "--items-per-request", "--distinct-series"):
        assert flag in loadgen.stdout
    sink = _run(installed, "sink", "--help", cwd=tmp_path)
    assert sink.returncode == 0, sink.stderr
    for flag in ("--port", "--bytes-only", "--fail", "--fail-seconds", "--retry-after"):
        assert flag in sink.stdout
    # the package imported is the installed one, not the checkout
    where = subprocess.run([str(installed / "python"), "-c", "import collector; print(collector.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert str(installed.parent) in where.stdout and str(REPO) not in where.stdout


def test_installed_loadgen_into_installed_sink(installed: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    sink = subprocess.Popen([str(installed / "collector"), "sink", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def stats() -> dict[str, object] | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=2) as response:
                    return dict(json.loads(response.read()))
            except OSError:
                return None

        assert wait_until(lambda: stats() is not None, timeout=60), "the installed sink did not start"
        load = _run(installed, "loadgen", "--endpoint", f"http://127.0.0.1:{port}", "--duration", "1",
                    "--rate", "2000", "--concurrency", "2", "--quiet", cwd=tmp_path)
        assert load.returncode == 0, load.stderr
        report = json.loads(load.stdout)
        assert report["items_accepted"] > 0 and report["items_accepted"] == report["items_offered"]
        counted = stats()
        assert counted is not None and counted["items"] == {"traces": report["items_accepted"], "metrics": 0,
                                                             "logs": 0}, (counted, report)
    finally:
        sink.terminate()
        sink.wait(30)
