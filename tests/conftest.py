"""Shared fixtures: one supernet per (space, preset), built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from hwnas.search_spaces import all_space_presets, get_space

SPACE_PRESETS = all_space_presets()
# Long-waveform presets are exercised on 0.2 s of audio to keep the suite fast; the sizes do not change.
TEST_INPUT_SHAPES = {("lighthubert", "base"): (3200,), ("lighthubert", "small"): (3200,), ("lighthubert", "tiny-speech"): (3200,),
                     # 224/320 conv presets on 64×64 images: same weights, a fraction of the compute.
                     ("emov2", "imagenet"): (3, 64, 64), ("mobiledets", "ssdlite-coco"): (3, 64, 64),
                     ("ofa-mbv3", "imagenet-w1.2"): (3, 64, 64), ("ofa-mbv3", "imagenet-w1.0"): (3, 64, 64)}


@pytest.fixture(scope="session")
def supernets():
    cache = {}

    def get(name: str, preset: str):
        if (name, preset) not in cache:
            torch.manual_seed(0)
            space = get_space(name, preset)
            cache[(name, preset)] = (space, space.build_supernet().eval())
        return cache[(name, preset)]

    return get


@pytest.fixture(scope="session")
def hwnas_data() -> Path:
    """Public measurements (read-only): $HWNAS_DATA, by default ../shared/data beside the repository."""
    path = Path(os.environ.get("HWNAS_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    assert path.is_dir(), f"public measurements not found at {path}; set HWNAS_DATA"
    return path
