"""The dashboard shows each co-design trial's hardware: in the hover, the front table and the trial details."""

from __future__ import annotations

import json

import pytest
from plotly.utils import PlotlyJSONEncoder

from hwnas.dashboard import TrialStore
from hwnas.dashboard._labels import hardware_label
from hwnas.dashboard._views import details_view, front_view
from hwnas.search import Experiment, parse_spec

SPEC = {
    "name": "joint-dash", "space": {"name": "emov2", "preset": "tiny"}, "hardware": {"kind": "accelerator"},
    "objectives": [{"metric": "flops_m", "direction": "maximize"}, {"metric": "energy_mj", "direction": "minimize"}],
    "searcher": {"kind": "optuna", "sampler": "random"}, "budget": {"trials": 4}, "seed": 0,
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('dash') / 'joint.db'}"
    Experiment(parse_spec(SPEC), url).run()
    return TrialStore(url).experiment("joint-dash")


def test_labels():
    accelerator = {"pe_rows": 16, "pe_cols": 32, "rf_bytes": 64, "sram_kb": 256, "dram_gbps": 8.0, "dataflow": "ws",
                   "clock_mhz": 500.0, "hw_id": "x"}
    assert hardware_label(accelerator) == "ws 16×32 PEs · RF 64 B · SRAM 256 KB · DRAM 8 GB/s"
    assert hardware_label({"threads": 2, "runtime": "onnxruntime", "precision": "int8"}) == "threads 2 · onnxruntime · int8"


def test_hover_table_and_details_show_the_hardware(data):
    assert data.has_hardware and all(data.hardware_labels)
    view = front_view(data, "flops_m", "energy_mj", None, "objectives", {})
    traces = view.figure["data"]
    feasible = next(t for t in traces if t["name"] == "feasible")
    assert "%{text}" in feasible["hovertemplate"] and set(feasible["text"]) <= set(data.hardware_labels)
    front = next(t for t in traces if t["name"].startswith("Pareto front"))
    assert [data.hardware_labels[list(data.numbers).index(c[0])] for c in front["customdata"]] == list(front["text"])
    assert {"name": "hardware", "id": "hardware"} in view.table_columns
    assert all(r["hardware"] == hardware_label(data.row(r["trial"]).hardware) for r in view.table_rows)
    row = data.rows[0]
    page = json.dumps(details_view(data, row.number), cls=PlotlyJSONEncoder, ensure_ascii=False)
    assert "Hardware" in page and row.hardware["hw_id"] in page and hardware_label(row.hardware) in page
