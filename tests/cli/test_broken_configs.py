"""The broken-configuration corpus: every file under tests/configs/broken must fail `validate` with
exactly the errors its `// error: LINE:COL: message` comments list, and never with a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from collector.cli import LOAD_FAILED, main

CORPUS = Path(__file__).resolve().parents[1] / "configs" / "broken"
CASES = sorted(CORPUS.glob("*.alloy"))
EXPECTATION = re.compile(r"^\s*// error: (\d+:\d+: .*)$", re.MULTILINE)
REPO = Path(__file__).resolve().parents[2]


def expected_errors(case: Path) -> list[str]:
    found = EXPECTATION.findall(case.read_text(encoding="utf-8", errors="surrogateescape"))
    return [f"{case.name}:{e}" for e in found]


def reported_errors(stderr: str) -> list[str]:
    return [
        line.removeprefix("Error: ")
        for line in stderr.splitlines()
        if line.startswith("Error: ") and line != LOAD_FAILED
    ]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
    for case in CASES:
        assert expected_errors(case), f"{case.name} states no expected error"


def validate_reports(case: Path, expected: list[str], monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> str:
    """Run `collector validate` on a broken case in its folder: exit 1, no traceback, exactly the
    `expected` located errors; returns what it printed on stderr."""
    monkeypatch.chdir(case.parent)
    code = main(["validate", case.name])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in out + err
    assert err.rstrip().endswith(LOAD_FAILED)
    assert sorted(reported_errors(err)) == sorted(expected)
    return err


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_validate_reports_exactly_the_expected_errors(
    case: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    validate_reports(case, expected_errors(case), monkeypatch, capsys)


SUBPROCESS_CASES = ["syntax-missing-comma-array", "cycle-two", "wrong-signal", "several-independent-errors"]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_validate_as_a_real_process(name: str) -> None:
    case = CORPUS / f"{name}.alloy"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-m", "collector", "validate", case.name],
        cwd=CORPUS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert sorted(reported_errors(result.stderr)) == sorted(expected_errors(case))
    assert result.stderr.rstrip().endswith(LOAD_FAILED)
