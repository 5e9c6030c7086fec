"""ONNX export of every space's tiny preset (and the encoder-decoder), each attention kind and conv block:
ONNX Runtime agrees with torch to 1e-4 on weights that make every sample's output different."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

from hwnas.export import ExportError, export_onnx
from hwnas.export._onnx import deployed_form
from hwnas.search_spaces import get_space


def _with(space, **choices):
    data = space.max_arch().to_dict()
    data.update(choices)
    return space.validate(data)


def _ops_of(space, kind):
    """An arch whose every `*_ops` choice is a block of `kind` where the stage offers one."""
    data = space.max_arch().to_dict()
    for name, decl in space.choices.items():
        if name.endswith("_ops"):
            pick = next((v for v in decl.values if v.startswith(kind)), decl.values[0])
            data[name] = tuple(pick for _ in data[name]) if isinstance(data[name], (tuple, list)) else pick
    return space.validate(data)


CASES = {  # id: (space, preset, space options, arch of the space)
    "ma-softmax": ("mixed-attention", "tiny", {}, lambda s: _with(s, attn=("softmax",) * 4)),
    "ma-cosformer": ("mixed-attention", "tiny", {}, lambda s: _with(s, attn=("cosformer",) * 4)),
    "ma-relative": ("mixed-attention", "tiny", {}, lambda s: _with(s, attn=("relative",) * 4, rel_range=2)),
    "ma-min": ("mixed-attention", "tiny", {}, lambda s: s.min_arch()),
    "lighthubert-max": ("lighthubert", "tiny", {}, lambda s: s.max_arch()),
    "lighthubert-min": ("lighthubert", "tiny", {}, lambda s: s.min_arch()),
    "lighthubert-speech": ("lighthubert", "tiny-speech", {}, lambda s: s.max_arch()),
    "emov2-attn": ("emov2", "tiny", {}, lambda s: s.max_arch()),  # attention i2RMB blocks in stages 3-4
    "emov2-conv": ("emov2", "tiny", {}, lambda s: s.min_arch()),  # conv i2RMB blocks everywhere
    "mobiledets-ibn": ("mobiledets", "tiny", {}, lambda s: _ops_of(s, "ibn")),
    "mobiledets-fused": ("mobiledets", "tiny", {}, lambda s: _ops_of(s, "fused")),
    "mobiledets-tucker": ("mobiledets", "tiny", {}, lambda s: _ops_of(s, "tucker")),
    "mobiledets-detection": ("mobiledets", "tiny-detection", {}, lambda s: _ops_of(s, "fused")),  # boxes and scores
    "ofa-max": ("ofa-mbv3", "tiny", {}, lambda s: s.max_arch()),
    "ofa-min": ("ofa-mbv3", "tiny", {}, lambda s: s.min_arch()),
    "mt-softmax": ("mixed-attention", "tiny-mt", {}, lambda s: _with(
        s, encoder_attn=("softmax",) * 3, decoder_attn=("softmax",) * 2)),
    "mt-cosformer": ("mixed-attention", "tiny-mt", {}, lambda s: _with(
        s, encoder_attn=("cosformer",) * 3, decoder_attn=("cosformer",) * 2)),
    "hat-seq2seq-min": ("mixed-attention", "hat-wmt14-en-de", {"vocab_size": 64}, lambda s: s.min_arch()),
}


def _trained_like(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
    """Random 1-D parameters (norm weights and biases, layer scales) and BatchNorm statistics estimated on
    the inputs, as after training: initial weights can map every sample to the same logits (zero biases,
    1e-6 layer scales, unit running variances under tiny depthwise weights), making a parity check vacuous."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, tensor in module.named_parameters():
            if tensor.ndim == 1:
                noise = torch.randn(tensor.shape, generator=generator)
                tensor.copy_(0.1 * noise if name.endswith("bias") else 1 + 0.2 * noise)
        norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None
        module.train()(*inputs)
    module.eval()


def test_every_tiny_preset_is_covered():
    from hwnas.search_spaces import all_space_presets

    tiny = {(name, preset) for name, preset in all_space_presets() if preset.startswith("tiny")}
    assert tiny <= {case[:2] for case in CASES.values()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_runtime_matches_torch(case, tmp_path):
    name, preset, options, pick = CASES[case]
    space = get_space(name, preset, **options)
    torch.manual_seed(0)
    module = space.build_supernet().extract(pick(space)).eval()
    shape = (6, 5) if space.config.get("network") == "seq2seq" else None
    _trained_like(module, space.example_input(32, shape))
    module, outputs = deployed_form(space, module)  # a detector: decoded boxes and scores
    inputs = space.example_input(4, shape)
    diff = export_onnx(module, inputs, tmp_path / "m.onnx", outputs=outputs)
    assert diff <= 1e-4

    def first_output(*x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            result = module(*x)
        return result[0] if isinstance(result, tuple) else result

    expected = first_output(*inputs)
    assert float((expected[0] - expected[1]).abs().max()) > 1e-3  # samples differ: the check has teeth
    # the written file runs at another batch size (a dynamic axis), still matching torch
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == outputs
    more = space.example_input(7, shape)
    got = session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), more)})[0]
    assert np.abs(got - first_output(*more).numpy()).max() <= 1e-4


def test_a_disagreeing_onnx_model_is_refused_and_not_written(tmp_path):
    class Flaky(torch.nn.Module):  # differs between the traced run and the check run
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            return x * self.calls

    with pytest.raises(ExportError, match="disagrees with torch"):
        export_onnx(Flaky(), (torch.ones(2, 3),), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
