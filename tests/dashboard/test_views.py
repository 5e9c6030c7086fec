"""The page's parts as data: figures, front table, trial details, labels (no browser needed)."""

from __future__ import annotations

import json

import numpy as np
import plotly.io as pio
from plotly.utils import PlotlyJSONEncoder
import pytest

from hwnas.dashboard import TrialStore
from hwnas.dashboard._arch import profile_validation, trial_details
from hwnas.dashboard._callbacks import route
from hwnas.dashboard._figures import SELECTED_TRACE, arch_figure, selected_trace
from hwnas.dashboard._labels import fmt, metric_label
from hwnas.dashboard._views import WEBGL_ABOVE, clicked_trial, details_view, devices_view, front_view, hypervolume_view
from hwnas.search.pareto import extract_command


def text(component) -> str:
    """Dash components (or a list of them) as the JSON the browser receives."""
    return json.dumps(component, cls=PlotlyJSONEncoder)


@pytest.fixture(scope="module")
def store(storage_url: str) -> TrialStore:
    return TrialStore(storage_url)


@pytest.fixture(scope="module")
def data(store: TrialStore):
    return store.experiment("synthetic")


@pytest.mark.parametrize("key, direction, label", [
    ("latency_ms@pixel4", "minimize", "latency on pixel4 (ms) ↓"),
    ("params_m", None, "params (M)"),
    ("flops_m", None, "FLOPs (M)"),
    ("naswot", "maximize", "NASWOT score (proxy) ↑"),
    ("energy_mj@edge", None, "energy on edge (mJ)"),
    ("area_mm2", None, "area (mm²)"),
    ("top1_acc", None, "top1 acc"),
])
def test_labels_carry_units(key: str, direction: str | None, label: str) -> None:
    assert metric_label(key, direction) == label


def test_fmt() -> None:
    assert [fmt(0.0123456), fmt(123456.7), fmt(None), fmt(float("nan")), fmt(3)] == ["0.01235", "123,457", "–", "–", "3"]


def test_front_view_draws_every_trial_once_and_the_front_on_top(data) -> None:
    view = front_view(data, "latency_ms@pixel4", "naswot", "params_m", "axes", {})
    traces = view.figure["data"]
    assert [t["name"] for t in traces] == ["outside filter", "infeasible", "feasible", f"Pareto front ({len(view.numbers)})", "selected"]
    bulk = [n for t in traces[:3] for n in t["customdata"]]
    plotted = np.isfinite(data.columns["latency_ms@pixel4"]) & np.isfinite(data.columns["naswot"])
    assert sorted(bulk) == sorted(data.numbers[plotted].tolist())  # pruned trials lack latency: not plotted
    assert [c[0] for c in traces[3]["customdata"]] == sorted(view.numbers, key=lambda n: data.row(n).metrics["latency_ms@pixel4"])
    assert traces[3]["mode"] == "lines+markers" and traces[3]["line"]["shape"] == "hv"  # the staircase
    assert traces[0]["x"].size == 0  # no filter, nobody outside it
    assert view.figure["layout"]["xaxis"]["title"]["text"] == "latency on pixel4 (ms) ↓"
    assert view.figure["layout"]["yaxis"]["title"]["text"] == "NASWOT score (proxy) ↑"
    assert {r["trial"] for r in view.table_rows} == set(view.numbers)
    assert "hwnas pareto --experiment synthetic --objectives latency_ms@pixel4,naswot" in text(view.cli)
    json.loads(pio.to_json(view.figure))  # serialisable as Dash sends it


def test_front_view_filters_live(data) -> None:
    high = float(np.nanpercentile(data.columns["latency_ms@xeon"], 50))
    view = front_view(data, "latency_ms@pixel4", "naswot", None, "all", {"latency_ms@xeon": [0, high]})
    outside = view.figure["data"][0]["customdata"]
    assert outside and all(not data.row(n).metrics.get("latency_ms@xeon", np.inf) <= float(f"{high:.6g}") for n in outside)
    assert all(data.row(n).metrics["latency_ms@xeon"] <= high for n in view.numbers)
    assert view.figure["data"][3]["mode"] == "markers"  # a 3-objective front has no 2-D staircase
    assert "--where" in text(view.cli)


def test_front_view_without_axes(data) -> None:
    view = front_view(data, None, "naswot", None, "axes", {})
    assert view.numbers == [] and view.table_rows == []


def test_large_experiments_use_webgl(fresh_url: str) -> None:
    from hwnas.dashboard import write_synthetic_experiment

    name = write_synthetic_experiment(fresh_url, WEBGL_ABOVE + 1, name="big")
    data = TrialStore(fresh_url).experiment(name)
    view = front_view(data, "latency_ms@pixel4", "naswot", "params_m", "axes", {})
    assert [t["type"] for t in view.figure["data"]] == ["scattergl"] * 3 + ["scatter"] * 2
    assert devices_view(data, "latency_ms@pixel4", "latency_ms@xeon", view.numbers)["data"][0]["type"] == "scattergl"


def test_selected_trace_replaces_the_star_only(data) -> None:
    number = int(data.numbers[5])
    star = selected_trace(data, "latency_ms@pixel4", "naswot", None, number).to_plotly_json()
    assert star["customdata"][0][0] == number and star["marker"]["symbol"] == "star"
    view = front_view(data, "latency_ms@pixel4", "naswot", None, "axes", {}, selected=number)
    assert view.figure["data"][SELECTED_TRACE]["name"] == f"trial {number}"


@pytest.mark.parametrize("click, number", [
    ({"points": [{"customdata": 17}]}, 17),
    ({"points": [{"customdata": [18, 0.5]}]}, 18),
    ({"points": [{"x": 1}]}, None),
    ({"points": []}, None),
    (None, None),
])
def test_clicked_trial(click, number) -> None:
    assert clicked_trial(click) == number


def test_details_show_arch_costs_latencies_and_the_extract_command(data) -> None:
    number = int(data.numbers[data.feasible & data.complete][0])
    details = trial_details(data, data.row(number))
    assert details.extract == extract_command("synthetic", number, data.storage_url) and "--storage" in details.extract
    assert details.params_m == data.row(number).metrics["params_m"] and details.counts_source == "trial"
    assert [f.device for f in details.latencies] == ["pixel4", "xeon"]
    pixel4 = details.latencies[0]
    assert pixel4.source == "predicted" and 0 < pixel4.validation["mape"] < 1 and pixel4.validation == profile_validation("pixel4")
    assert {s.name for s in details.layers} == {"attn", "heads", "ffn_dim"} and {s.stack for s in details.layers} == {"layers"}
    assert details.global_choices.keys() == {"embed_dim", "layers", "rel_range"}
    figure = arch_figure(details)
    assert len([a for a in figure.layout.annotations]) == 2  # one row per numeric per-layer choice: heads, ffn_dim
    panel = text(details_view(data, number))
    assert details.extract in panel and "MAPE" in panel


def test_unknown_devices_are_not_looked_up_as_paths() -> None:
    assert profile_validation("../../etc") is None and profile_validation("no-such-device") is None


def test_details_count_params_when_the_trial_lacks_them(store: TrialStore) -> None:
    data = store.experiment("real-run")
    row = data.row(int(data.numbers[0]))
    assert "params_m" in row.metrics  # a real run stores them; drop them to make the page count them
    from dataclasses import replace

    details = trial_details(data, replace(row, metrics={}))
    assert details.counts_source == "ops" and details.params_m == pytest.approx(row.metrics["params_m"])
    assert details.latencies == []


def test_details_of_an_unknown_trial(data) -> None:
    assert "is not a finished trial" in text(details_view(data, 10**6))


def test_hypervolume_and_devices_figures(data) -> None:
    hv = hypervolume_view(data)
    assert hv.layout.xaxis.title.text == "trial number" and len(hv.data[0].x) > 10
    devices = devices_view(data, "latency_ms@pixel4", "latency_ms@xeon", [])
    assert "Kendall τ" in devices["layout"]["title"]["text"]
    assert devices["layout"]["xaxis"]["title"]["text"] == "latency on pixel4 (ms)"
    assert "choose two different" in pio.to_json(devices_view(data, "latency_ms@xeon", "latency_ms@xeon", []))


def test_routes(store: TrialStore) -> None:
    assert "synthetic" in text(route(store, "/"))
    assert "x-metric" in text(route(store, "/experiment/synthetic"))
    assert "unknown experiment 'nope'" in text(route(store, "/experiment/nope"))
    assert "no page at" in text(route(store, "/elsewhere"))


def test_details_say_how_much_of_an_op_level_latency_is_measured(store: TrialStore) -> None:
    from dataclasses import replace

    from hwnas.dashboard._views import details_panel

    data = store.experiment("real-run")
    row = data.row(int(data.numbers[0]))
    row = replace(row, metrics={**row.metrics, "latency_ms@v100-b64": 3.2, "latency_unmeasured@v100-b64": 0.35})
    details = trial_details(data, row)
    fact = next(f for f in details.latencies if f.device == "v100-b64")
    assert fact.source == "predicted" and fact.unmeasured == 0.35
    panel = text(details_panel(details))
    assert "35% of it composed or extrapolated" in panel and "latency_unmeasured" not in panel


def test_details_show_what_a_surrogate_expected_of_its_pick(store: TrialStore) -> None:
    from dataclasses import replace

    from hwnas.dashboard._views import details_panel

    data = store.experiment("real-run")
    row = replace(data.row(int(data.numbers[0])), surrogate={"naswot": {"mean": 212.5, "std": 3.25}})
    panel = text(details_panel(trial_details(data, row)))
    assert "surrogate expected" in panel and "212.5" in panel and "3.25" in panel
