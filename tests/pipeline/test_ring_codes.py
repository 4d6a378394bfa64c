"""Ring codes of receivers: stable, and never ambiguous (within a configuration or across a reload)."""

from __future__ import annotations

import pytest

from collector.config.diag import DiagnosticError
from collector.pipeline.plan import ReceiverCodeCollision, receiver_codes, ring_code
from tests.pipeline.fakes import load_text


def _colliding_labels() -> tuple[str, str]:
    """Two labels whose `test.receiver` IDs hash to the same 16-bit code (found by search)."""
    seen: dict[int, str] = {}
    for i in range(200_000):
        label = f"r{i}"
        code = ring_code(f"test.receiver.{label}")
        if code in seen:
            return seen[code], label
        seen[code] = label
    raise AssertionError("no collision found")


def _receivers(*labels: str) -> str:
    blocks = [f'test.receiver "{label}" {{\n  output {{ traces = [test.exporter.out.input] }}\n}}' for label in labels]
    return "\n".join(blocks) + '\ntest.exporter "out" { }\n'


def test_codes_are_a_pure_function_of_the_id() -> None:
    pipeline = load_text(_receivers("a", "b"))
    codes = receiver_codes(pipeline)
    assert codes == {"test.receiver.a": ring_code("test.receiver.a"), "test.receiver.b": ring_code("test.receiver.b")}
    # adding a receiver does not move the others (records already in a ring keep their pipeline)
    assert {k: v for k, v in receiver_codes(load_text(_receivers("z", "a", "b"))).items() if k != "test.receiver.z"} \
        == codes


def test_a_collision_is_a_configuration_error_naming_both_components() -> None:
    first, second = _colliding_labels()
    with pytest.raises(DiagnosticError) as info:
        load_text(_receivers(first, second))
    text = str(info.value)
    assert f"test.receiver.{first}" in text and f"test.receiver.{second}" in text
    assert "same ring code" in text
    assert f'main.alloy:4:' in text  # at the second receiver's block


def test_a_new_receiver_may_not_take_the_code_of_one_a_reload_removes() -> None:
    first, second = _colliding_labels()
    running = load_text(_receivers(first))
    new = load_text(_receivers(second))
    with pytest.raises(ReceiverCodeCollision) as info:
        receiver_codes(new, running)
    assert info.value.first == f"test.receiver.{first}" and info.value.second == f"test.receiver.{second}"
    assert "running configuration" in str(info.value)
    # keeping the same receiver, or adding one with another code, is fine
    assert receiver_codes(running, running)
    assert receiver_codes(load_text(_receivers(first, "other")), running)
