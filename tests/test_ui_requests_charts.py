"""The analytics page's SVG charts (pure): well-formed, escaped, whiskers where CIs exist."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from promptyard.web.ui import charts

NS = "{http://www.w3.org/2000/svg}"


def t(key: str, **kw: str) -> str:
    return key + "".join(f"[{v}]" for v in kw.values())


def item(prompt: str | None, version: int | None, **extra) -> dict:  # noqa: ANN003
    base = {"prompt": prompt, "version": version, "count": 10, "error_rate": 0.1, "latency_p50": 800.0,
            "latency_p95": 1500.0, "cost_total": 0.05, "tokens_total": 100, "tokens_mean": 10.0, "scores": {}}
    return base | extra


def test_bar_chart_is_valid_svg_with_one_row_per_bar_and_whiskers():
    svg = charts.bar_chart([charts.Bar("a@1", 50, 40, 60, note="n=3"), charts.Bar("a@2", None)],
                           title="score", fmt=lambda v: f"{v:.1f}", top=100)
    root = ET.fromstring(str(svg))
    assert root.tag == NS + "svg" and root.get("role") == "img"
    rows = root.findall(f"{NS}g")
    assert len(rows) == 2
    assert rows[0].find(f"{NS}rect") is not None and rows[0].find(f"{NS}path").get("class") == "ci"
    assert rows[1].find(f"{NS}rect") is None  # no value: no bar, a dash instead
    texts = [e.text for e in root.iter(NS + "text")]
    assert "50.0 n=3" in texts and "—" in texts


def test_bar_width_is_proportional_to_the_axis():
    svg = charts.bar_chart([charts.Bar("x", 25), charts.Bar("y", 100)], title="t", fmt=str, top=100)
    widths = [float(r.get("width")) for r in ET.fromstring(str(svg)).iter(NS + "rect")]
    assert abs(widths[1] - 4 * widths[0]) < 0.5 and abs(widths[1] - charts.PLOT_W) < 0.5


def test_axis_rounds_up_to_a_readable_end():
    assert [charts.nice_max(v) for v in (0, 0.7, 1, 3, 7.5, 1200, 0.023)] == [1.0, 0.8, 1, 4, 8, 2000, 0.04]


def test_hostile_names_are_escaped_text():
    bad = '<script>window.__xss=1</script><img src=x onerror="alert(1)">'
    svg = str(charts.bar_chart([charts.Bar(bad, 1.0)], title=bad, fmt=str))
    assert "<script" not in svg and "<img" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # still well-formed


def test_analytics_charts_cover_every_metric_and_score_name():
    items = [item("p", 1, scores={"medically_correct": {"n": 5, "mean": 70.0, "ci_low": 60.0, "ci_high": 80.0}}),
             item("p", 2, scores={"follows_manual": {"n": 1, "mean": 90.0, "ci_low": None, "ci_high": None}}),
             item(None, None, count=0, cost_total=None, latency_p50=None, latency_p95=None)]
    got = charts.analytics_charts(items, t, "en")
    assert [c.key for c in got] == ["count", "error_rate", "latency", "cost", "score:follows_manual",
                                    "score:medically_correct"]
    assert got[-1].title == "requests.analytics.score[medically_correct]"
    med = ET.fromstring(str(got[-1].svg))
    labels = [e.text for e in med.iter(NS + "text") if e.get("class") == "label"]
    assert labels == ["p@1", "p@2", "requests.analytics.unlinked"]
    assert len([p for p in med.iter(NS + "path") if p.get("class") == "ci"]) == 1
    latency = ET.fromstring(str(got[2].svg))
    assert len([x for x in latency.iter(NS + "line") if x.get("class") == "tick"]) == 2
    cost_values = [e.text for e in ET.fromstring(str(got[3].svg)).iter(NS + "text") if e.get("class") == "value"]
    assert cost_values[0] == "$0.005"  # per request: 0.05 over 10 requests (fractions of a cent in full)


def test_axes_write_large_counts_in_the_languages_units():
    items = [item("p", 1, count=80_000), item("p", 2, count=20_000)]
    for lang, expected in (("en", ["0", "20,000", "40,000", "60,000", "80,000"]), ("ja", ["0", "2万", "4万", "6万", "8万"])):
        count = charts.analytics_charts(items, t, lang)[0]
        assert [e.text for e in ET.fromstring(str(count.svg)).iter(NS + "text") if e.get("class") == "axis"] == expected
