"""Both layout directions and where edge labels go (sans-IO: no server, no browser)."""

from __future__ import annotations

import pytest

from collector.web.graph_layout import layout
from collector.web.svg import label_place

IDS = ["receiver", "left", "right", "exporter"]
PAIRS = [("receiver", "left"), ("receiver", "right"), ("left", "exporter"), ("right", "exporter")]


def test_top_to_bottom_puts_layers_in_rows_and_edges_from_bottom_to_top() -> None:
    shape = layout(IDS, PAIRS, "TB")
    boxes = shape.nodes
    assert shape.direction == "TB"
    assert boxes["receiver"].y < boxes["left"].y == boxes["right"].y < boxes["exporter"].y
    for (source, target), path in shape.edges.items():
        (sx, sy), (tx, ty) = path.points[0], path.points[-1]
        assert sy == boxes[source].y + boxes[source].height and sx == boxes[source].x + boxes[source].width / 2
        assert ty == boxes[target].y and tx == boxes[target].x + boxes[target].width / 2
    for box in boxes.values():
        assert 0 <= box.x and box.x + box.width <= shape.width and box.y + box.height <= shape.height


def test_left_to_right_puts_layers_in_columns() -> None:
    shape = layout(IDS, PAIRS, "LR")
    boxes = shape.nodes
    assert boxes["receiver"].x < boxes["left"].x == boxes["right"].x < boxes["exporter"].x
    assert shape.width > shape.height


@pytest.mark.parametrize(("points", "vertical", "side"), [
    ([[0, 0], [100, 0]], False, "above"),  # horizontal: centred above the line
    ([[0, 0], [100, 80]], False, "above"),  # falling: above and to the right, where the line is not
    ([[0, 80], [100, 0]], False, "above"),  # rising: above and to the left
    ([[0, 0], [0, 100]], True, "right"),  # vertical: to the right
    ([[0, 0], [-60, 100]], True, "right"),
    ([[0, 0], [60, 100]], True, "right"),
])
def test_labels_go_beside_the_curve(points: list[list[float]], vertical: bool, side: str) -> None:
    x, y, anchor, nx, ny = label_place(points, vertical)
    (x0, y0), (x1, y1) = points
    mid = ((x0 + x1) / 2, (y0 + y1) / 2)
    assert (x, y) != mid and abs((x - mid[0]) ** 2 + (y - mid[1]) ** 2 - 49) < 1e-6  # 7 px off the curve
    if side == "above":
        assert ny < 0
    else:
        assert nx > 0 and anchor == "start"
    # the text grows away from the curve: start-anchored text only where the normal points right
    assert anchor == ("start" if nx > 0.35 else "end" if nx < -0.35 else "middle")
