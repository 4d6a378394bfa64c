"""The web layer and the self-metrics depend on `runtime.view`, never on the Supervisor class."""

from __future__ import annotations

import subprocess
import sys


def test_web_and_selfmetrics_do_not_import_the_supervisor() -> None:
    probe = ("import sys, collector.web.server, collector.selfmetrics.exposition; "
             "print('collector.runtime.supervisor' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"
