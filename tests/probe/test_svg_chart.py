"""The pages' one chart module: well-formed SVG, bars to scale, marks where they belong, empty input."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from unitscope.probe import svg_chart
from unitscope.probe.svg_chart import Bars, Mark

NS = {"s": "http://www.w3.org/2000/svg"}


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def test_histogram_bars_are_proportional_to_their_heights():
    root = _parse(svg_chart.histogram([Bars([1, 4, 0, 2], "#4a7")], [0, 1, 2, 3, 4], width=400, height=116))
    rects = root.findall("s:rect", NS)
    heights = [float(r.get("height")) for r in rects]
    assert len(rects) == 4 and heights[2] == 0
    assert (
        heights[1] == pytest.approx(100)
        and heights[0] == pytest.approx(25)
        and heights[3] == pytest.approx(50)
    )
    # every bar stands on one base line, left to right in bin order, each with its bin and value as title
    assert len({float(r.get("y")) + float(r.get("height")) for r in rects}) == 1
    assert [float(r.get("x")) for r in rects] == [0, 100, 200, 300]
    assert rects[1].find("s:title", NS).text == "1..2: 4"


def test_overlaid_series_share_one_scale():
    root = _parse(svg_chart.histogram([Bars([1, 2], "grey", 0.6), Bars([4, 1], "red", 0.6)], [0, 1, 2]))
    heights = [float(r.get("height")) for r in root.findall("s:rect", NS)]
    assert heights[2] == pytest.approx(4 * heights[0]) and heights[3] == pytest.approx(heights[0])
    assert [r.get("fill") for r in root.findall("s:rect", NS)] == ["grey", "grey", "red", "red"]


def test_marks_inside_the_bins_are_drawn_and_others_left_out():
    svg = svg_chart.histogram(
        [Bars([1, 1], "grey")], [0.0, 1.0, 2.0], width=200,
        marks=[Mark(0.5, dashed=True), Mark(7.0), Mark(float("nan"))],
    )  # fmt: skip
    lines = _parse(svg).findall("s:line", NS)
    assert len(lines) == 1 and float(lines[0].get("x1")) == pytest.approx(50)
    assert lines[0].get("stroke-dasharray")


def test_ticks_label_the_axis():
    svg = svg_chart.histogram([Bars([1] * 4, "grey")], np.linspace(0, 1, 5), ticks=(0, 0.5, 1))
    assert [t.text for t in _parse(svg).findall("s:text", NS)] == ["0", "0.5", "1"]


@pytest.mark.parametrize(
    "series, edges", [([], [0, 1]), ([Bars([], "grey")], [0, 1]), ([Bars([1], "g")], [0])]
)
def test_histogram_of_nothing_is_empty(series, edges):
    assert svg_chart.histogram(series, edges) == ""


def test_curve_is_a_band_a_line_and_the_reference():
    xs = [0.5, 1.0, 2.0]
    svg = svg_chart.curve(xs, [1, 3, 2], [0, 2, 1], [2, 4, 3], 0.5, title="scale <x>", note="x", log_x=True,
                          span=[0.5, 1.0])  # fmt: skip
    root = _parse(svg)
    line = [tuple(map(float, p.split(","))) for p in root.find("s:polyline", NS).get("points").split()]
    # log2 spacing puts 0.5, 1, 2 at equal steps; the highest mean is highest on the page (smallest y)
    assert line[1][0] - line[0][0] == pytest.approx(line[2][0] - line[1][0])
    assert min(line, key=lambda p: p[1]) == line[1]
    assert root.find("s:polygon", NS) is not None and root.find("s:line", NS).get("stroke-dasharray")
    assert "scale <x>" in [t.text for t in root.findall("s:text", NS)]
    assert svg_chart.curve([1.0], [1], [1], [1], 0.0, title="one point") == ""
