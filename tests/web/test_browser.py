"""The pages in real headless Chromium against the OpenTelemetry tutorial configuration.

Screenshots of every page go to tests/artifacts/web/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from collector.testing.process import CollectorProcess
from tests.web.browser import browser_context, missing_reason, screenshot
from tests.web.test_api import OTEL_EDGES

_REASON = missing_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


@pytest.fixture(scope="module")
def page(otel_collector: CollectorProcess) -> Iterator[Any]:
    # the graph of this configuration is wider than a laptop screen; the page scrolls, the shot should not
    with browser_context(width=2300, height=900) as context:
        tab = context.new_page()
        yield tab


def open_page(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("main[data-loaded=true]", timeout=20_000)


def test_graph_page_shows_every_component_and_edge(page: Any, otel_collector: CollectorProcess) -> None:
    open_page(page, otel_collector.admin_url + "/graph")
    nodes = page.eval_on_selector_all("svg.graph a.node", "els => els.map(e => e.dataset.id)")
    components = page.evaluate("fetch('/api/v0/web/components').then(r => r.json()).then(l => l.map(c => c.localID))")
    assert sorted(nodes) == sorted(components) and len(nodes) == 9
    labels = page.eval_on_selector_all("svg.graph text.edge-label", "els => els.map(e => e.dataset.edge)")
    assert {tuple(label.split("|")) for label in labels} == OTEL_EDGES
    assert page.eval_on_selector_all("svg.graph path.edge", "els => els.length") == len({(s, t) for s, t, _ in OTEL_EDGES})
    for node_id in nodes:  # every box is drawn with a visible size
        box = page.locator(f'svg.graph a.node[data-id="{node_id}"] rect').first.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 30
    screenshot(page, "graph")


def test_clicking_a_node_opens_its_detail(page: Any, otel_collector: CollectorProcess) -> None:
    open_page(page, otel_collector.admin_url + "/graph")
    page.click('svg.graph a.node[data-id="otelcol.processor.batch.default"]')
    page.wait_for_url("**/component/otelcol.processor.batch.default")
    page.wait_for_selector("main[data-loaded=true] h1")
    assert page.inner_text("main h1") == "otelcol.processor.batch.default"
    body = page.inner_text("main")
    for section in ("Counters (totals)", "References to", "Referenced by", "Data flow", "Recent errors", "Arguments",
                    "Exports"):
        assert section in body
    assert "otelcol.exporter.otlphttp.traces" in body  # a data-flow target
    screenshot(page, "component")


def test_components_page_lists_every_component(page: Any, otel_collector: CollectorProcess) -> None:
    open_page(page, otel_collector.admin_url + "/")
    rows = page.eval_on_selector_all("main tbody tr", "els => els.map(e => e.dataset.id)")
    assert len(rows) == 9 and "otelcol.receiver.otlp.default" in rows
    badges = page.eval_on_selector_all("main .badge", "els => els.map(e => e.textContent)")
    assert set(badges) <= {"healthy", "unhealthy", "unknown", "exited"} and len(badges) == 9
    assert "9 components" in page.inner_text("#status")
    screenshot(page, "components")


def test_processes_page_lists_supervisor_receivers_and_workers(page: Any, otel_collector: CollectorProcess) -> None:
    open_page(page, otel_collector.admin_url + "/processes")
    keys = page.eval_on_selector_all("main tbody tr", "els => els.map(e => e.dataset.key)")
    assert keys[0] == "supervisor"
    assert {"receiver/0", "worker traces/0", "worker metrics/0", "worker logs/0"} <= set(keys)
    screenshot(page, "processes")
