"""The UI's one way of writing numbers (web/ui/figures.py): no exponents, no 0.00000, the
language's units on axes, and the pages that use it."""

from __future__ import annotations

import pytest

from promptyard.web.ui import figures

pytestmark = pytest.mark.one_database


def test_plain_numbers_never_use_an_exponent():
    assert [figures.plain(v) for v in (0, 20_000, 12_345.6, 12.5, 1.0, 0.25, 0.0025, 8.01e-09, -0.5)] == [
        "0", "20,000", "12,346", "12.5", "1", "0.25", "0.0025", "0.00000000801", "-0.5"]
    assert figures.plain(float("nan")) == figures.DASH
    assert [figures.plain(v, 6) for v in (0.00001, 33.3333, 100, 12.5)] == ["0.00001", "33.3333", "100", "12.5"]


@pytest.mark.parametrize(("value", "en", "ja"), [
    (0, "0", "0"), (5_000, "5,000", "5,000"), (20_000, "20,000", "2万"), (125_000, "125,000", "12.5万"),
    (2_000_000, "2M", "200万"), (150_000_000, "150M", "1.5億"), (3e12, "3T", "3兆"), (0.5, "0.5", "0.5")])
def test_axis_labels_in_each_language(value, en, ja):  # noqa: ANN001
    assert (figures.compact(value, "en"), figures.compact(value, "ja")) == (en, ja)


def test_money_from_dollars_to_fractions_of_a_cent():
    got = [figures.money(v) for v in (None, 0, 1234.567, 12.345, 0.25, 0.0123, 0.05, 0.0075, 0.000042, 4.2e-7)]
    assert got == ["—", "$0", "$1,234.57", "$12.35", "$0.25", "$0.0123", "$0.05", "$0.0075", "$0.000042",
                   "$0.00000042"]


def test_percent_ms_counts_and_scores():
    assert [figures.percent(r) for r in (None, 0, 0.1234, 0.01, 0.0025, 0.00003)] == [
        "—", "0%", "12.3%", "1.0%", "0.25%", "0.003%"]
    assert figures.ms(1234.4) == "1,234 ms" and figures.count(20_000) == "20,000" and figures.count(None) == "—"
    assert [figures.score(v) for v in (80.0, 72.4, None)] == ["80", "72.4", "—"]
    assert figures.decimal(1234.5678, 2) == "1,234.57"


def test_a_tiny_cost_on_the_request_list_reads_in_dollars(ui, api):  # noqa: ANN001
    from tests.support import ingest, log

    ingest(api, log(model="gpt-4o-mini", cost=0.000042, prompt_tokens=1, completion_tokens=1))
    page = ui("viewer", lang="ja").get("/ui/requests").text
    assert "$0.000042" in page and "e-0" not in page and "0.00000<" not in page

