"""The two-tier configurations in docs/scaling.md load: the guide cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collector.config.diag import Sources
from collector.pipeline.loader import load_sources

DOC = Path(__file__).resolve().parents[5] / "docs" / "scaling.md"
BLOCKS = re.findall(r"```alloy\n(.*?)```", DOC.read_text(), re.S)


def test_the_guide_has_both_tiers() -> None:
    assert len(BLOCKS) == 2


@pytest.mark.parametrize("text", BLOCKS, ids=["tier1", "tier2"])
def test_each_tier_configuration_loads(text: str) -> None:
    pipeline = load_sources(Sources({"scaling.alloy": text.encode()}))
    assert pipeline.nodes
