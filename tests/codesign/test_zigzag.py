"""The ZigZag path: our layer conversion reproduces ZigZag's own single-layer example, and the calibrated
roofline stays near ZigZag on our accelerators."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from hwnas.codesign import Accelerator, AcceleratorCostModel, UnsupportedOpError
from hwnas.codesign._zigzag import accelerator_yaml, layer_key, run_zigzag, run_zigzag_files, zigzag_layer
from hwnas.search_spaces import get_space
from hwnas.search_spaces import _ops as ops

# ZigZag's own example (repository KULeuven-MICAS/zigzag, tests/main/test_origin/test_gemm_l1.py, release 3.8.5):
# the 128×128×128 GEMM of inputs/workload/gemm_layer.yaml on inputs/hardware/gemm_l1.yaml with
# inputs/mapping/gemm_l1.yaml and lpf_limit=3 costs (511349.76000000007 pJ, 8191 cycles); the test compares
# with pytest.approx (relative tolerance 1e-6). zigzag-dse 3.9.1 ships the same hardware and mapping files.
GEMM_EXPECTED = (511349.76000000007, 8191.0)


def test_our_linear_layer_reproduces_zigzags_gemm_example(tmp_path: Path):
    inputs = resources.files("zigzag") / "inputs"
    layer = zigzag_layer(ops.linear(128, 128, 128, bias=False), 0)
    assert layer["loop_sizes"] == [1, 128, 128, 128, 1, 1, 1]  # B, K, C, OY(n), OX, FY, FX
    # ZigZag's mapping, with its GEMM dims renamed to ours: D0 (rows) → OY, D2 (reduction) → C, D1 (cols) → K
    mapping = yaml.safe_load((inputs / "mapping" / "gemm_l1.yaml").read_text())
    rename = {"D0": "OY", "D1": "K", "D2": "C"}
    for entry in mapping:
        entry["spatial_mapping"] = {d: [f"{rename[s.split(',')[0]]},{s.split(',')[1]}" for s in v]
                                    for d, v in entry["spatial_mapping"].items()}
        entry["temporal_ordering"] = [[rename[dim], size] for dim, size in entry["temporal_ordering"]]
    (tmp_path / "mapping.yaml").write_text(yaml.safe_dump(mapping))
    [(energy, cycles)] = run_zigzag_files([layer], Path(str(inputs / "hardware" / "gemm_l1.yaml")),
                                          tmp_path / "mapping.yaml", lpf_limit=3)
    assert energy == pytest.approx(GEMM_EXPECTED[0], rel=1e-6)
    assert cycles == pytest.approx(GEMM_EXPECTED[1], rel=1e-6)


ACC = dict(pe_rows=16, pe_cols=16, rf_bytes=64, sram_kb=64, dram_gbps=8.0)


@pytest.mark.parametrize("dataflow", ["ws", "os", "rs"])
def test_calibrated_roofline_is_near_zigzag_on_our_accelerators(dataflow):
    acc = Accelerator.from_config({**ACC, "dataflow": dataflow})
    layers = [ops.conv2d(24, 96, 1, 1, (8, 8)), ops.conv2d(96, 96, 3, 1, (8, 8), groups=96, padding=1), ops.linear(4, 64, 128)]
    reference = run_zigzag(layers, acc, lpf_limit=3)
    calibrated = AcceleratorCostModel(get_space("emov2", "tiny")).op_costs(layers, acc)
    for (energy, cycles), c in zip(reference, calibrated):
        assert c.energy_pj == pytest.approx(energy, rel=0.35)
        assert c.cycles == pytest.approx(cycles, rel=0.6)


def test_the_accelerator_description_follows_the_dataflow():
    kept = {df: set(accelerator_yaml(Accelerator.from_config({**ACC, "dataflow": df}))["memories"]) for df in ("ws", "os", "rs")}
    assert kept["ws"] == {"rf_W", "acc_O", "sram", "dram"}
    assert kept["os"] == {"rf_O", "sram", "dram"}
    assert kept["rs"] == {"rf_I", "rf_W", "rf_O", "sram", "dram"}


def test_zigzag_prices_only_dense_layers():
    with pytest.raises(UnsupportedOpError, match=r"op layernorm\(n=4,dim=8\) is not a dense layer"):
        zigzag_layer(ops.layernorm(4, 8), 0)
    assert layer_key(ops.conv2d(8, 8, 3, 1, (8, 8), padding=1, bias=True)) == layer_key(ops.conv2d(8, 8, 3, 1, (8, 8), padding=1, bias=False))
