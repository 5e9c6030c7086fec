from __future__ import annotations

import re

import numpy as np
import pytest

from hwnas.dashboard import TrialStore
from hwnas.dashboard._analysis import bounds_where, front, hypervolume_history, metric_range, where_mask
from hwnas.search.pareto import MAX_WHERE_CHARS, QueryError, parse_where
from hwnas.search.queries import front_rows


@pytest.fixture(scope="module")
def data(storage_url: str):
    return TrialStore(storage_url).experiment("synthetic")


def test_full_range_bounds_add_no_filter(data) -> None:
    bounds = {k: list(metric_range(data, k)) for k in data.metric_keys}
    assert bounds_where(data, bounds) == ""
    assert bounds_where(data, {k: None for k in data.metric_keys}) == ""
    assert where_mask(data, "").all()


def test_moved_bounds_become_a_where_clause(data) -> None:
    low, high = metric_range(data, "params_m")
    where = bounds_where(data, {"params_m": [low, (low + high) / 2], "naswot": [150.0, metric_range(data, "naswot")[1]]})
    assert where == f"params_m <= {(low + high) / 2:.6g} and naswot >= 150"
    assert parse_where(where, data.metric_keys)  # valid for `hwnas pareto --where`
    mask = where_mask(data, where)
    expected = (data.columns["params_m"] <= float(f"{(low + high) / 2:.6g}")) & (data.columns["naswot"] >= 150)
    np.testing.assert_array_equal(mask, expected)


def test_trials_lacking_a_filtered_metric_fail_the_filter(data) -> None:
    """As in `pareto_front`: a pruned trial without latency on xeon does not pass a filter on it."""
    mask = where_mask(data, "latency_ms@xeon <= 1e9")
    assert not mask[np.isnan(data.columns["latency_ms@xeon"])].any()
    assert mask[~np.isnan(data.columns["latency_ms@xeon"])].all()


def test_bad_filter_is_a_query_error(data) -> None:
    with pytest.raises(QueryError, match="unknown metric 'nope'"):
        where_mask(data, "nope <= 1")


@pytest.mark.parametrize("keys, where", [
    (None, ""),
    (["naswot", "params_m"], ""),
    (["latency_ms@pixel4", "naswot"], "params_m <= 0.05"),
    (["params_m", "naswot"], "latency_ms@xeon <= 1.5 and naswot >= 140"),
])
def test_page_front_is_hwnas_pareto(storage_url: str, data, keys, where) -> None:
    """The front the page draws is the one `hwnas pareto` (and /api/pareto) prints, in the same order."""
    query = front(data, keys or data.objective_keys, where)
    rows = front_rows(storage_url, "synthetic", ",".join(keys) if keys else None, where or None)
    assert query.numbers == [r["trial"] for r in rows] and query.numbers
    assert query.cli.startswith("hwnas pareto --experiment synthetic --objectives ")
    assert ("--where" in query.cli) == bool(where)


def test_front_over_a_non_objective_has_no_cli_twin(data) -> None:
    query = front(data, ["flops_m", "naswot"])
    assert query.cli is None and query.numbers
    usable = data.feasible & data.complete
    # minimised, and sorted by its first key: the front starts at the least FLOPs of any feasible trial
    assert data.row(query.numbers[0]).metrics["flops_m"] == np.min(data.columns["flops_m"][usable])


def test_hypervolume_history_ends_at_the_experiment_hypervolume(data) -> None:
    numbers, values = hypervolume_history(data, points=50)
    assert len(numbers) == len(values) <= 50
    assert np.all(np.diff(values) >= -1e-9)  # one reference point: never decreases
    assert np.all(np.diff(numbers) > 0)
    assert values[-1] == pytest.approx(data.hypervolume, rel=1e-9)


def test_filters_are_capped_and_blank_runs_are_cheap(data) -> None:
    """The page's filter goes through the same parser: over the cap is one error; long blank runs parse as one space."""
    with pytest.raises(QueryError, match=f"the limit is {MAX_WHERE_CHARS:,}$"):
        where_mask(data, "params_m" + " " * 65536 + "<= 1")
    spaced = "  params_m" + " " * 2000 + "<=\t\n 0.05" + " " * 1000 + "and" + " " * 1000 + "naswot >= 150 "
    assert parse_where(spaced, data.metric_keys) == [("params_m", "<=", 0.05), ("naswot", ">=", 150.0)]
    assert parse_where(" " * MAX_WHERE_CHARS, data.metric_keys) == []


@pytest.mark.parametrize("where, message", [
    ("params_m <= 1 and", "empty clause"),
    ("and params_m <= 1", "empty clause"),
    ("params_m <= 1 and  and naswot > 1", "empty clause"),
    ("params_m" + "x" * 3000 + " <= 1", "filter names unknown metric 'params_mxxx"),
    ("params_m < = 1", "filter clause 'params_m < = 1' must look like"),
])
def test_malformed_filters_are_one_line(data, where: str, message: str) -> None:
    with pytest.raises(QueryError, match=re.escape(message)) as info:
        parse_where(where, data.metric_keys)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400 + len(", ".join(data.metric_keys))
