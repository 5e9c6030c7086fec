"""`hwnas hardware sample|cost`: JSON lines, totals that match the cost model, one-line errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from hwnas.cli import app
from hwnas.codesign import Accelerator, AcceleratorCostModel, accelerator_space
from hwnas.search_spaces import get_space

ACC = {"pe_rows": 16, "pe_cols": 16, "rf_bytes": 64, "sram_kb": 64, "dram_gbps": 8, "dataflow": "ws"}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_sample_prints_configs_of_the_narrowed_space(runner):
    result = runner.invoke(app, ["hardware", "sample", "accelerator", "-n", "4", "--choice", "dataflow=rs,os"])
    assert result.exit_code == 0, result.output
    configs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(configs) == 4 and {c["dataflow"] for c in configs} <= {"rs", "os"}
    for config in configs:
        assert accelerator_space().validate(config).id == config["hw_id"]


def test_cost_matches_the_cost_model_and_sums_its_breakdown(runner):
    result = runner.invoke(app, ["hardware", "cost", "--space", "emov2", "--preset", "tiny", "--arch", "min",
                                 "--accelerator", json.dumps(ACC), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    space = get_space("emov2", "tiny")
    expected = AcceleratorCostModel(space).cost(space.min_arch(), Accelerator.from_config(ACC))
    assert data["energy_mj"] == pytest.approx(expected["energy_mj"]) and data["area_mm2"] == pytest.approx(expected["area_mm2"])
    assert sum(k["energy_mj"] for k in data["by_op_kind"].values()) == pytest.approx(data["energy_mj"])
    assert data["hw_id"] == accelerator_space().validate({**ACC, "dram_gbps": 8.0, "clock_mhz": 500.0}).id


@pytest.mark.parametrize(("args", "message"), [
    (["hardware", "cost", "--space", "emov2", "--accelerator", json.dumps({**ACC, "sram_kb": 0})], "'sram_kb' must be a positive integer"),
    (["hardware", "cost", "--space", "emov2", "--accelerator", "nope.json"], "neither a JSON object nor a JSON file"),
    (["hardware", "sample", "fpga"], "unknown hardware kind 'fpga'; choose one of: accelerator, deployment"),
    (["hardware", "sample", "accelerator", "--choice", "dataflow"], "must look like KEY=V1,V2"),
])
def test_bad_input_is_one_line_and_exit_code_2(runner, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
