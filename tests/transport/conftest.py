from __future__ import annotations

from typing import Iterator

import pytest

from tests.transport.harness import RunningReceiver, running_receiver


@pytest.fixture(params=["uvloop", "asyncio"], scope="module")
def receiver(request: pytest.FixtureRequest) -> Iterator[RunningReceiver]:
    yield from running_receiver(use_uvloop=request.param == "uvloop")


@pytest.fixture(autouse=True)
def _reset_admission(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "receiver" in request.fixturenames:
        rr: RunningReceiver = request.getfixturevalue("receiver")
        rr.admission.admitted.clear()
        rr.admission.refused.clear()
        rr.admission.outcome = rr.admission.outcome.ACCEPTED
        rr.admission.full_for = 0
