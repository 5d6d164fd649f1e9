import re

from steward.charts import Bar, LineChart, Series, bar_chart_svg, line_chart_svg, nice_ticks, tick_label


def test_nice_ticks_ascend_in_round_steps_past_the_top():
    assert nice_ticks(0, 8980) == [0, 2500, 5000, 7500, 10000]
    assert nice_ticks(0, 1) == [0, 0.25, 0.5, 0.75, 1]
    assert nice_ticks(0, 11) == [0, 5, 10, 15]
    assert nice_ticks(0.2, 0.9) == [0.2, 0.4, 0.6, 0.8, 1.0]


def test_tick_labels_are_plain_numbers():
    assert [tick_label(v) for v in (0, 2500, 10000, 0.25, 0.5)] == ["0", "2,500", "10,000", "0.25", "0.5"]


def ticks_of(svg: str) -> list[str]:
    return re.findall(r'<text class="tick" x="\d+" y="[\d.]+" text-anchor="end">([^<]+)</text>', svg)


def test_histogram_y_axis_reads_bottom_to_top_in_order():
    svg = bar_chart_svg([Bar(f"{i / 20:.2f}", n) for i, n in enumerate([898, 8980, 7000, 8000] + [0] * 16)])
    labels = ticks_of(svg)
    assert labels == ["0", "2,500", "5,000", "7,500", "10,000"]
    assert "e+" not in svg


def test_line_chart_ticks_cover_the_range():
    svg = line_chart_svg(LineChart(series=[Series("precision", [(10, 0.5), (20, 0.9)])]))
    assert ticks_of(svg) == ["0", "0.25", "0.5", "0.75", "1"]
