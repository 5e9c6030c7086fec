"""Accelerator configs are checked field by field; the area model follows its stated constants."""

from __future__ import annotations

import pytest

from hwnas.codesign import Accelerator, InvalidHardwareError, area_mm2

GOOD = dict(pe_rows=16, pe_cols=16, rf_bytes=64, sram_kb=64, dram_gbps=8.0, dataflow="ws")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("pe_rows", 0, "'pe_rows' must be a positive integer, got 0"),
    ("pe_cols", -4, "'pe_cols' must be a positive integer, got -4"),
    ("pe_rows", 2.5, "'pe_rows' must be a positive integer"),
    ("rf_bytes", True, "'rf_bytes' must be a positive integer"),
    ("rf_bytes", 2, "'rf_bytes' = 2 is smaller than one partial sum"),
    ("sram_kb", 0, "'sram_kb' must be a positive integer"),
    ("dram_gbps", 0, "'dram_gbps' must be a positive number"),
    ("dram_gbps", float("nan"), "'dram_gbps' must be a positive number"),
    ("dataflow", "ns", "'dataflow' = 'ns' is not one of"),
])
def test_invalid_fields_are_named(field, value, message):
    with pytest.raises(InvalidHardwareError, match=message.replace("(", r"\(")):
        Accelerator.from_config({**GOOD, field: value})


def test_sram_smaller_than_one_tile():
    tile = 64 * 64 + 64 + 64 * 4  # a weight per PE, an input per row, a 32-bit partial sum per column
    assert Accelerator.from_config({**GOOD, "pe_rows": 64, "pe_cols": 64, "sram_kb": 5}).tile_bytes == tile
    with pytest.raises(InvalidHardwareError, match=f"'sram_kb' = 4 is smaller than one tile .*{tile} bytes"):
        Accelerator.from_config({**GOOD, "pe_rows": 64, "pe_cols": 64, "sram_kb": 4})


def test_missing_and_unknown_fields():
    with pytest.raises(InvalidHardwareError, match="'dataflow' is missing"):
        Accelerator.from_config({k: v for k, v in GOOD.items() if k != "dataflow"})
    with pytest.raises(InvalidHardwareError, match="'sram_mb' is unknown"):
        Accelerator.from_config({**GOOD, "sram_mb": 1})


def test_area_from_the_stated_constants():
    acc = Accelerator.from_config(GOOD)
    pe = 256 * (419.0 + 64 * 8 * 4.522)  # PE logic + one 64-byte weight register file (ws), µm²
    sram = 64 * 1024 * 8 * 0.346 / 0.7
    assert area_mm2(acc) == pytest.approx((pe + sram) / 1e6, rel=1e-12)
    rs = Accelerator.from_config({**GOOD, "dataflow": "rs"})  # three register files per PE
    assert area_mm2(rs) > area_mm2(acc)
    assert area_mm2(Accelerator.from_config({**GOOD, "sram_kb": 256})) > area_mm2(acc)
