"""Validation figures against values computed by hand."""

import math

import numpy as np
import pytest

from hwnas.predictors import metrics

Y = [10.0, 20.0, 30.0, 40.0]
P = [10.4, 21.5, 26.0, 40.0]  # errors: +4%, +7.5%, -13.33%, 0%


def test_rmse_mape_and_shares_by_hand():
    assert metrics.rmse_ms(Y, P) == pytest.approx(math.sqrt((0.16 + 2.25 + 16.0 + 0.0) / 4))
    assert metrics.mape(Y, P) == pytest.approx((0.04 + 0.075 + 4 / 30 + 0.0) / 4)
    assert metrics.acc5(Y, P) == 0.5  # +4% and 0%
    assert metrics.acc10(Y, P) == 0.75  # all but -13.3%
    assert metrics.within(Y, [11.0, 22.0, 33.0, 44.0], 0.10) == 1.0  # exactly +10% counts as within


def test_kendall_tau_by_hand_and_with_ties():
    assert metrics.kendall_tau([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    assert metrics.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # pairs: (1,2) C, (1,3) C, (1,4) C, (2,3) D, (2,4) C, (3,4) C → (5 - 1) / 6
    assert metrics.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    # tau-b with a tie in the prediction: C=2, D=0, ties only in p: 1 → 2 / sqrt(3 * 2)
    assert metrics.kendall_tau([1, 2, 3], [1, 2, 2]) == pytest.approx(2 / math.sqrt(6))
    assert math.isnan(metrics.kendall_tau([1.0], [2.0]))


def test_kendall_tau_matches_scipy_on_a_larger_sample():
    from scipy import stats as scipy_stats
    rng = np.random.default_rng(0)
    y = rng.random(1500)
    p = np.round(y + rng.normal(0, 0.1, 1500), 2)  # rounding makes ties
    assert metrics.kendall_tau(y, p) == pytest.approx(scipy_stats.kendalltau(y, p).statistic, abs=1e-12)


def test_summary_keys_and_errors():
    s = metrics.summary(Y, P)
    assert set(s) == {"n", "rmse_ms", "mape", "acc5", "acc10", "kendall_tau"} and s["n"] == 4
    with pytest.raises(ValueError, match="3 values but y_pred has 2"):
        metrics.acc10([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least one"):
        metrics.rmse_ms([], [])
