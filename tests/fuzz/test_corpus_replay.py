"""Replay the committed fuzz corpus (fuzz/corpus/<target>/, grown by `make fuzz`): every input must
give a clean outcome, success or the error type its parser defines for bad input. An input that
once crashed a target stays in the corpus as its regression case."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from fuzz.targets import TARGETS

CORPUS = Path(__file__).resolve().parents[2] / "fuzz" / "corpus"
MIN_INPUTS = 10_000  # across targets; the floor for what `make test` replays


def _inputs(target: str) -> list[Path]:
    folder = CORPUS / target
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_the_corpus_covers_every_target_and_is_large_enough() -> None:
    counts = {name: len(_inputs(name)) for name in TARGETS}
    assert all(counts.values()), counts
    assert sum(counts.values()) >= MIN_INPUTS, counts


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_saved_input_has_a_clean_outcome(name: str) -> None:
    target = TARGETS[name]
    failures = []
    for path in _inputs(name):
        try:
            target.run(path.read_bytes())
        except Exception:  # noqa: BLE001 - any escaping exception is a finding; report them all
            failures.append(f"{path.name}: {traceback.format_exc(limit=-3)}")
    assert not failures, f"{len(failures)} of {len(_inputs(name))} inputs failed:\n" + "\n".join(failures[:5])
