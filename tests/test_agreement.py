"""Issue 17, agreement statistics (domain/agreement.py) on fixed data: Cohen's kappa (unweighted,
linear, quadratic) against sklearn, Fleiss' kappa against the textbook example (Fleiss 1971, as
Wikipedia works it: 0.210) and statsmodels, Krippendorff's alpha (nominal, ordinal, interval,
with missing ratings) against the `krippendorff` package and Krippendorff's own worked example,
and the edge cases that have no coefficient."""

from __future__ import annotations

import random

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from promptyard.domain import agreement as ag

pytestmark = pytest.mark.one_database

RATER_A = [1, 2, 3, 3, 4, 5, 5, 2, 1, 4, 3, 3, 5, 4, 2, 1, 3, 4, 5, 2]
RATER_B = [1, 3, 3, 2, 4, 5, 4, 2, 2, 4, 3, 4, 5, 5, 2, 1, 2, 4, 4, 2]

# Fleiss (1971) as Wikipedia works it: 10 items, 14 raters, 5 categories; counts per category.
FLEISS_TABLE = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]

# Krippendorff's example (Content Analysis, 2004 / "Computing Krippendorff's alpha-reliability"):
# 4 coders, 12 units, None = missing. Published: nominal 0.743, ordinal 0.815, interval 0.849.
KRIPP = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn(weights):  # noqa: ANN001
    got = ag.cohen_kappa(RATER_A, RATER_B, weights=weights)
    assert got.value == pytest.approx(cohen_kappa_score(RATER_A, RATER_B, weights=weights), abs=1e-12)
    assert got.n == 20 and got.observed == pytest.approx(12 / 20)  # counted by hand
    rng = random.Random(17)
    for _ in range(30):
        a = [rng.randint(1, 5) for _ in range(40)]
        b = [x if rng.random() < 0.6 else rng.randint(1, 5) for x in a]
        assert ag.cohen_kappa(a, b, weights=weights).value == pytest.approx(
            cohen_kappa_score(a, b, weights=weights), abs=1e-12)


def test_cohen_kappa_uses_items_both_scored_and_given_categories():
    a = [1, None, 2, 2, 1, 3]
    b = [1, 2, None, 2, 2, 3]
    got = ag.cohen_kappa(a, b)
    assert got.n == 4 and got.value == pytest.approx(cohen_kappa_score([1, 2, 1, 3], [1, 2, 2, 3]))
    # fixed categories 1-5: the ranks (and so the weighted distances) come from the scale, not the data
    with_scale = ag.cohen_kappa([1, 2, 1, 3], [1, 2, 2, 3], weights="linear", categories=[1, 2, 3, 4, 5])
    assert with_scale.value == pytest.approx(cohen_kappa_score([1, 2, 1, 3], [1, 2, 2, 3], weights="linear",
                                                               labels=[1, 2, 3, 4, 5]))


def test_fleiss_kappa_textbook_and_statsmodels():
    items = [[c for c, count in enumerate(row) for _ in range(count)] for row in FLEISS_TABLE]
    got = ag.fleiss_kappa(items)
    assert round(got.value, 3) == 0.210 and round(got.observed, 3) == 0.378 and got.n == 10
    assert got.value == pytest.approx(sm_fleiss(np.array(FLEISS_TABLE), method="fleiss"), abs=1e-12)
    rng = random.Random(3)
    for _ in range(20):
        rows = [[rng.choice("abc") for _ in range(4)] for _ in range(25)]
        table = np.array([[row.count(c) for c in "abc"] for row in rows])
        assert ag.fleiss_kappa(rows).value == pytest.approx(sm_fleiss(table, method="fleiss"), abs=1e-12)


@pytest.mark.parametrize("level,published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_alpha_worked_example_and_package(level, published):  # noqa: ANN001
    units = [list(col) for col in zip(*KRIPP)]
    got = ag.krippendorff_alpha(units, level=level)
    assert round(got.value, 3) == published
    data = np.array([[np.nan if v is None else v for v in row] for row in KRIPP], dtype=float)
    assert got.value == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement=level),
                                      abs=1e-12)
    assert got.n == 11  # unit 12 has one rating: not pairable
    rng = random.Random(11)
    for _ in range(20):
        rows = [[None if rng.random() < 0.2 else rng.randint(1, 5) for _ in range(30)] for _ in range(3)]
        data = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
        ours = ag.krippendorff_alpha([list(c) for c in zip(*rows)], level=level).value
        assert ours == pytest.approx(krippendorff.alpha(reliability_data=data, level_of_measurement=level),
                                     abs=1e-9)


def test_percent_agreement():
    got = ag.percent_agreement([[1, 1, 1], [1, 2, None], [2, 2], [3]])
    assert got.n == 3 and got.value == pytest.approx((3 + 0 + 1) / (3 + 1 + 1))


def test_edge_cases_give_none_with_a_reason_never_a_division_by_zero():
    assert ag.cohen_kappa([1], [1]) == ag.Agreement(None, None, 1, ag.TOO_FEW)
    assert ag.cohen_kappa([1, None], [None, 2]).reason == ag.TOO_FEW
    one = ag.cohen_kappa([4, 4, 4], [4, 4, 4], weights="quadratic")
    assert (one.value, one.observed, one.reason) == (None, 1.0, ag.ONE_CATEGORY)
    assert ag.fleiss_kappa([[1, 1], [1, 1], [1, 1]]).reason == ag.ONE_CATEGORY
    assert ag.fleiss_kappa([[1, 2]]).reason == ag.TOO_FEW
    assert ag.fleiss_kappa([[1, 2], [1, 2, 2]]).reason == ag.UNEQUAL_RATERS
    assert ag.fleiss_kappa([[1], [2]]).reason == ag.TOO_FEW_RATERS
    for level in ag.LEVELS:
        assert ag.krippendorff_alpha([[3, 3], [3, 3, None]], level=level).reason == ag.ONE_CATEGORY
        assert ag.krippendorff_alpha([[1, 2, 3]], level=level).reason == ag.TOO_FEW
        assert ag.krippendorff_alpha([[1], [2], [None, 3]], level=level).reason == ag.TOO_FEW
    assert ag.percent_agreement([[1], [2]]).reason == ag.TOO_FEW
    with pytest.raises(ValueError):
        ag.cohen_kappa([1, 2], [1])


def test_a_judges_score_on_the_reviewers_scale():
    assert ag.on_scale(75, 1, 5, [1, 2, 3, 4, 5]) == 4  # 1 + 4 x 0.75
    assert ag.on_scale(60, 1, 5, [1, 2, 3, 4, 5]) == 3  # 3.4
    assert ag.on_scale(62.5, 1, 5, [1, 2, 3, 4, 5]) == 3  # 3.5: a tie goes to the lower
    assert ag.on_scale(50, 0, 100, [0, 100]) == 0 and ag.on_scale(51, 0, 100, [0, 100]) == 100
    assert ag.on_scale(37.5, 0, 100) == 37.5 and ag.on_scale(50, 0, 10) == 5
    # Judge (100 / 75 / 25 -> 5 / 4 / 2) against a reviewer (5 / 4 / 3), as the queue overview pairs them.
    judge = [ag.on_scale(v, 1, 5, [1, 2, 3, 4, 5]) for v in (100, 75, 25)]
    ours = ag.krippendorff_alpha([[j, h] for j, h in zip(judge, [5, 4, 3])], level="ordinal")
    reference = krippendorff.alpha(reliability_data=[judge, [5, 4, 3]], level_of_measurement="ordinal")
    assert ours.value == pytest.approx(reference) and ours.n == 3
