"""The operator's pages in real headless Chromium at a laptop's 1280x800: the graph fitted to the
window with zoom and pan, and live debugging of the batch processor, with the tutorial's
OpenTelemetry configuration under a small steady load.

Screenshots go to tests/artifacts/web/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Iterator

import pytest

from collector.testing.process import CollectorProcess
from collector.testing.sdk import send_logs, send_metrics, send_spans, wait_until
from tests.web.browser import browser_context, missing_reason, screenshot
from tests.web.conftest import backends_down, example_config

_REASON = missing_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

WIDTH, HEIGHT = 1280, 800
BATCH = "otelcol.processor.batch.default"


class Load:
    """A little of every signal, every half second, from the SDK's exporters, until stopped."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopped.is_set():
            send_spans("http", self.endpoint, 20, name="load")
            send_logs("http", self.endpoint, 10)
            send_metrics("http", self.endpoint)
            self.stopped.wait(0.5)

    def __enter__(self) -> Load:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopped.set()
        self.thread.join(timeout=60)


@pytest.fixture(scope="module")
def loaded() -> Iterator[tuple[CollectorProcess, str]]:
    config = "livedebugging {\n  enabled = true\n}\n\n" + example_config("opentelemetry.alloy")
    http = config.split('http {\n    endpoint = "', 1)[1].split('"', 1)[0]
    with CollectorProcess(config, env=backends_down(), shutdown_timeout="2s") as proc:
        endpoint = f"http://{http}"
        with Load(endpoint):
            yield proc, endpoint


@pytest.fixture(scope="module")
def page(loaded: tuple[CollectorProcess, str]) -> Iterator[Any]:
    with browser_context(width=WIDTH, height=HEIGHT) as context:
        yield context.new_page()


def open_graph(page: Any, proc: CollectorProcess) -> None:
    page.goto(proc.admin_url + "/graph")
    page.wait_for_selector("main[data-loaded=true] #graph svg.graph")
    page.wait_for_function("document.getElementById('graph').dataset.scale !== undefined")


def scale(page: Any) -> float:
    return float(page.get_attribute("#graph", "data-scale"))


def test_graph_fits_the_window_without_scrolling(page: Any, loaded: tuple[CollectorProcess, str]) -> None:
    proc, _ = loaded
    open_graph(page, proc)
    nodes = page.eval_on_selector_all("svg.graph a.node", "els => els.map(e => e.dataset.id)")
    assert len(nodes) == 9
    for node_id in nodes:
        box = page.locator(f'svg.graph a.node[data-id="{node_id}"] rect').first.bounding_box()
        assert box is not None, node_id
        assert box["x"] >= 0 and box["y"] >= 0, (node_id, box)
        assert box["x"] + box["width"] <= WIDTH and box["y"] + box["height"] <= HEIGHT, (node_id, box)
        assert box["width"] > 100  # still readable, not a speck
    extent = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
    assert extent[0] <= WIDTH and extent[1] <= HEIGHT, extent  # no scroll bar
    screenshot(page, "graph-fitted")


def test_every_node_shows_rates(page: Any, loaded: tuple[CollectorProcess, str]) -> None:
    """Items/s in and out on every node: processors and connectors count both (the kit), exporters
    their input from their upstream edges and their output from what they sent (0/s while the
    backends of this test are down)."""
    proc, _ = loaded
    open_graph(page, proc)
    script = """ids => ids.every(id => {
        const status = document.querySelector(`svg.graph a.node[data-id="${id}"] .node-status`);
        return status && !status.textContent.includes("—");
    })"""
    watched = page.eval_on_selector_all("svg.graph a.node", "els => els.map(e => e.dataset.id)")
    assert {"otelcol.processor.resourcedetection.default", "otelcol.connector.host_info.default"} <= set(watched)
    # the page redraws the graph in place every 3 s; rates need two samples of the counters
    page.wait_for_function(script, arg=watched, timeout=60_000, polling=500)


def test_edge_labels_sit_beside_their_edges(page: Any, loaded: tuple[CollectorProcess, str]) -> None:
    proc, _ = loaded
    open_graph(page, proc)
    on_the_line = page.evaluate("""() => {
        const hits = [];
        for (const path of document.querySelectorAll("svg.graph path.edge")) {
            const length = path.getTotalLength();
            const labels = [...document.querySelectorAll("svg.graph text.edge-label")].filter(t =>
                t.dataset.edge.startsWith(path.dataset.source + "|" + path.dataset.target + "|"));
            for (const fraction of [0.4, 0.5, 0.6]) {
                const p = path.getPointAtLength(length * fraction);
                for (const label of labels) {
                    const b = label.getBBox();
                    if (p.x > b.x && p.x < b.x + b.width && p.y > b.y && p.y < b.y + b.height) hits.push(label.dataset.edge);
                }
            }
        }
        return hits;
    }""")
    assert on_the_line == []
    assert page.eval_on_selector_all("svg.graph text.edge-label", "els => els.length") >= 10


def test_zoom_buttons_wheel_and_drag(page: Any, loaded: tuple[CollectorProcess, str]) -> None:
    proc, _ = loaded
    open_graph(page, proc)
    fitted = scale(page)
    page.click("#zoom-in")
    assert scale(page) == pytest.approx(fitted * 1.25, rel=1e-3)
    page.click("#zoom-in")
    page.click("#zoom-out")
    assert scale(page) == pytest.approx(fitted * 1.25, rel=1e-3)
    screenshot(page, "graph-zoomed")
    page.click("#zoom-fit")
    assert scale(page) == pytest.approx(fitted, rel=1e-3)
    box = page.locator("#graph").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -300)
    page.wait_for_function(f"Number(document.getElementById('graph').dataset.scale) > {fitted * 1.05}")
    before = page.get_attribute("#graph svg", "viewBox")
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 90, steps=5)
    page.mouse.up()
    after = page.get_attribute("#graph svg", "viewBox")
    assert before.split()[:2] != after.split()[:2] and before.split()[2:] == after.split()[2:]  # moved, same zoom
    page.click("#direction")  # the other layout, fitted again
    page.wait_for_selector('#graph svg[data-direction="LR"]')
    assert page.get_attribute("#graph", "data-scale") is not None
    screenshot(page, "graph-left-to-right")
    page.click("#direction")
    page.wait_for_selector('#graph svg[data-direction="TB"]')


def test_live_debugging_page_shows_spans_of_the_batch_processor(page: Any, loaded: tuple[CollectorProcess, str]) -> None:
    proc, endpoint = loaded
    page.goto(proc.admin_url + f"/component/{BATCH}")
    page.wait_for_selector("main[data-loaded=true] #live-debugging")
    page.click("#live-debugging")
    page.wait_for_url(f"**/debug/{BATCH}")
    page.wait_for_selector("#debug-status:has-text('watching')")
    marker = f"browser-{uuid.uuid4().hex[:8]}"

    def shown() -> bool:
        send_spans("http", endpoint, 3, name=marker)
        return page.locator(f"#debug-log .item.traces:has-text('{marker}')").count() > 0

    # the tap is switched on asynchronously, so the first spans may pass before it is on
    assert wait_until(shown, timeout=30, interval=0.5)
    page.fill("#debug-filter", marker)
    visible = page.eval_on_selector_all("#debug-log > div:not([hidden])", "els => els.map(e => e.textContent)")
    assert visible and all(marker in text for text in visible)
    screenshot(page, "live-debugging")
    page.click("#debug-pause")
    assert "paused" in page.inner_text("#debug-count")
    page.click("#debug-clear")
    assert page.eval_on_selector_all("#debug-log > div", "els => els.length") == 0
    page.select_option("#debug-rate", "0.01")
    page.click("#debug-pause")  # resumes at 1 %
    page.wait_for_selector("#debug-status:has-text('watching')")
