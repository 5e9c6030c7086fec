"""Small real inputs for profile tests: subsets of the public measurements written to temp files."""

from __future__ import annotations

import csv
import json

import pytest


@pytest.fixture(scope="session")
def hat_xeon_csv(hwnas_data):
    return hwnas_data / "hat-latency" / "wmt14ende_cpu_xeon_all.csv"


@pytest.fixture(scope="session")
def small_hat_csv(tmp_path_factory, hat_xeon_csv):
    """The first 400 rows of HAT's Xeon measurements."""
    rows = list(csv.reader(hat_xeon_csv.open()))
    path = tmp_path_factory.mktemp("hat") / "wmt14ende_cpu_xeon_all.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows[:401])
    return path


@pytest.fixture(scope="session")
def small_lut(tmp_path_factory, hwnas_data):
    """Every 12th key of nn-Meter's Pixel 4 table (all six block kinds), with its LICENSE beside it."""
    table = json.loads((hwnas_data / "nnmeter-mobile-lut" / "pixel4_lut_ln_v3.json").read_text())
    keys = sorted(table)
    subset = {k: table[k] for i, k in enumerate(keys) if i % 12 == 0 or k.startswith(("firstconv", "mbpool"))}
    folder = tmp_path_factory.mktemp("lut")
    (folder / "LICENSE").write_text((hwnas_data / "nnmeter-mobile-lut" / "LICENSE").read_text())
    path = folder / "pixel4_lut_ln_v3.json"
    path.write_text(json.dumps(subset))
    return path


@pytest.fixture(scope="session")
def small_help(tmp_path_factory, hwnas_data):
    """The first 300 rows of HELP's OFA and FBNet files, with their LICENSE beside them: {space: path}."""
    folder = tmp_path_factory.mktemp("help")
    (folder / "LICENSE").write_text((hwnas_data / "help-latency" / "LICENSE").read_text())
    paths = {}
    for space, name in (("ofa-mbv3", "ofa_latency_ms.csv"), ("fbnet", "fbnet_latency_ms.csv")):
        lines = (hwnas_data / "help-latency" / name).read_text().splitlines(keepends=True)
        paths[space] = folder / name
        paths[space].write_text("".join(lines[:301]))
    return paths
