"""How long a woken worker lets records gather in its rings (`collector.runtime.worker.linger_for`)."""

from __future__ import annotations

from typing import Any

import msgspec

from collector.components.kit.fanout import Fanout
from collector.components.otelcol.processor.batch import Arguments, BatchProcessor
from collector.components.otelcol.processor.filter import Arguments as FilterArguments, FilterProcessor
from collector.runtime.worker import LINGER_SHARE, MAX_LINGER, holds_for, linger_for
from collector.signals import Signal
from collector.testing.context import CollectingConsumer, build_context, ref


def batch(**raw: Any) -> BatchProcessor:
    args = msgspec.convert({"output": {}, **raw}, Arguments)
    args = msgspec.structs.replace(args, output=msgspec.structs.replace(args.output, traces=[ref("sink")]))
    args.validate()
    return BatchProcessor(build_context(BatchProcessor, "otelcol.processor.batch.b", consumers={"sink": CollectingConsumer()}),
                          args)


def entry(*consumers: Any) -> Fanout:
    return Fanout("otelcol.receiver.otlp.in", Signal.TRACES, list(consumers))


def test_a_batch_processor_holds_payloads_for_its_timeout() -> None:
    assert holds_for(batch(timeout=0.2), Signal.TRACES) == 0.2
    assert holds_for(batch(timeout=0.0), Signal.TRACES) == 0.0
    assert holds_for(batch(timeout=0.2, send_batch_size=1, send_batch_max_size=0), Signal.TRACES) == 0.0  # sent as it comes


def test_linger_is_a_bounded_share_of_what_every_entry_holds() -> None:
    assert linger_for([entry(batch(timeout=0.2))], Signal.TRACES) == MAX_LINGER
    assert linger_for([entry(batch(timeout=0.04))], Signal.TRACES) == 0.04 * LINGER_SHARE
    # two entries: the one that holds least decides
    assert linger_for([entry(batch(timeout=1.0)), entry(batch(timeout=0.04))], Signal.TRACES) == 0.04 * LINGER_SHARE


def test_no_linger_when_some_consumer_may_send_at_once() -> None:
    exporter_like = CollectingConsumer()  # says nothing about holding: it may send as soon as it gets data
    assert linger_for([entry(batch(timeout=0.2), exporter_like)], Signal.TRACES) == 0.0
    assert linger_for([entry(batch(timeout=0.2)), entry(exporter_like)], Signal.TRACES) == 0.0
    assert linger_for([entry(batch(timeout=0.0))], Signal.TRACES) == 0.0
    assert linger_for([entry()], Signal.TRACES) == 0.0  # an empty output list drops at once
    assert linger_for([], Signal.TRACES) == 0.0


def filter_into(downstream: Any) -> FilterProcessor:
    args = msgspec.convert({"output": {}}, FilterArguments)
    args = msgspec.structs.replace(args, output=msgspec.structs.replace(args.output, traces=[ref("next")]))
    args.validate()
    return FilterProcessor(build_context(FilterProcessor, "otelcol.processor.filter.f", consumers={"next": downstream}),
                           args)


def test_a_processor_that_forwards_as_it_goes_holds_what_its_output_holds() -> None:
    assert linger_for([entry(filter_into(batch(timeout=0.2)))], Signal.TRACES) == MAX_LINGER
    assert linger_for([entry(filter_into(CollectingConsumer()))], Signal.TRACES) == 0.0
    # its output for another signal is not wired here: nothing is known to hold those payloads
    assert linger_for([entry(filter_into(batch(timeout=0.2)))], Signal.LOGS) == 0.0
