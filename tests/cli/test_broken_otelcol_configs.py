"""The broken OpenTelemetry Collector YAML corpus: every file under tests/configs/otelcol/broken must
fail `validate` with exactly the errors its `# error: LINE:COL: message` comments list (located in
the YAML), and never with a traceback. The same mechanism as the Alloy corpus (test_broken_configs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from collector.cli import LOAD_FAILED
from tests.cli.test_broken_configs import REPO, reported_errors, validate_reports

CORPUS = Path(__file__).resolve().parents[1] / "configs" / "otelcol" / "broken"
CASES = sorted(CORPUS.glob("*.yaml"))
EXPECTATION = re.compile(r"^# error: (\d+:\d+: .*)$", re.MULTILINE)


def expected_errors(case: Path) -> list[str]:
    return [f"{case.name}:{e}" for e in EXPECTATION.findall(case.read_text(encoding="utf-8"))]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    for case in CASES:
        assert expected_errors(case), f"{case.name} states no expected error"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_validate_reports_exactly_the_expected_errors(
    case: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = validate_reports(case, expected_errors(case), monkeypatch, capsys)
    line = expected_errors(case)[0].split(":")[1]
    assert f"\n{line.rjust(2)} | " in err or f"\n{line} | " in err, "the source line is quoted under the error"


SUBPROCESS_CASES = ["syntax-unclosed-quote", "unknown-component-type", "undefined-exporter",
                    "prometheus-to-otlphttp", "unsupported-env-provider"]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_validate_as_a_real_process(name: str) -> None:
    case = CORPUS / f"{name}.yaml"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "collector", "validate", case.name], cwd=CORPUS, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert sorted(reported_errors(result.stderr)) == sorted(expected_errors(case))
    assert result.stderr.rstrip().endswith(LOAD_FAILED)


def test_run_refuses_a_broken_yaml_without_traceback(tmp_path: Path) -> None:
    from collector.testing.process import CollectorProcess

    text = (CORPUS / "invalid-duration.yaml").read_text()
    process = CollectorProcess(text, workdir=tmp_path, config_name="config.yaml")
    code, logs = process.run_to_exit(timeout=60)
    assert code != 0 and "Traceback" not in logs
    assert "config.yaml:9:14: time: unknown unit" in logs, logs
