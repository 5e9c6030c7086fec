"""`calibrate_hat_csv`: a HAT latency CSV → an op-level profile of that device (`op-level-v1`).

Each row is one SubTransformer of `hat-wmt14-en-de` (`_hat.hat_archs`) and its measured encoder + decoder
time; the ops it ran are the space's decode at the file's sentence length, beam and vocabulary. Unit costs
per op class are fitted on them (`_calibrate_op_level.calibrate_measured`), so the device prices every space
whose op classes HAT's transformers cover (linear layers, softmax attention, LayerNorm, ReLU, additions,
embeddings), and others by composition. Rows of HAT's WMT'14 setup are that preset's own latency, so a
correction for `hat-wmt14-en-de` is kept where cross-validation shows it helps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hwnas.errors import DataFileError
from hwnas.hw_profiles._calibrate_op_level import Measured, calibrate_measured
from hwnas.hw_profiles._common import file_provenance
from hwnas.hw_profiles._hat import guess_device, hat_archs, hat_space, read_hat_csv
from hwnas.hw_profiles._profile import LatencyModel, Profile

HAT_PAPER = "Wang et al., HAT, ACL 2020 (mit-han-lab/hardware-aware-transformers)"


def hat_source(path: str | Path) -> Measured:
    """The rows of a HAT CSV as measured subnets, with the ops HAT's script ran for them."""
    data = read_hat_csv(path)
    setup = data.setup
    space = hat_space(setup)
    archs = hat_archs(data, space)
    preset_workload = setup.input_shape == tuple(space.default_input_shape) and setup.vocab is None
    return Measured(data.path.name, space, archs, data.total_ms,
                    {**file_provenance(data.path), "workload": setup.to_dict()},
                    block_lists=[space.latency_blocks(a, setup.input_shape) for a in archs], own_workload=preset_workload)


def calibrate_hat_sources(sources: Sequence[Measured], device: str, kind: str, runtime: str,
                          extra: Sequence[Measured] = ()) -> tuple[Profile, LatencyModel]:
    """One op-level profile of a device from HAT files (and `extra` sources of the same device, runtime and batch)."""
    files = ", ".join(s.label for s in sources)
    return calibrate_measured([*sources, *extra], device, kind, runtime, 1,
                              f"HAT latency dataset ({files}): measured SubTransformers, {HAT_PAPER}",
                              "hwnas profile calibrate --source hat-csv")


def calibrate_hat_csv(paths: str | Path | Sequence[str | Path], device: str | None = None, kind: str | None = None,
                      runtime: str | None = None) -> tuple[Profile, LatencyModel]:
    """An op-level profile from one HAT CSV, or one fit over several of one device (e.g. its WMT'14 and IWSLT'14
    runs); bad data raises `DataFileError` (see `read_hat_csv`, `hat_archs`)."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not paths:
        raise DataFileError("no HAT latency CSV given")
    guesses = [guess_device(p) for p in paths]
    named = {g.get("device") or p.stem for g, p in zip(guesses, paths)}
    if device is None and len(named) > 1:
        raise DataFileError(f"{', '.join(str(p) for p in paths)}: the files name different devices "
                            f"({', '.join(sorted(named))}); one profile is one device: calibrate them apart, or name the "
                            "device with --device if they are one")
    return calibrate_hat_sources([hat_source(p) for p in paths], device or guesses[0].get("device") or paths[0].stem,
                                 kind or guesses[0].get("kind", "cpu"),
                                 runtime or "pytorch eager (fairseq, HAT's measurement script)")
