"""Shipped profiles, the profile file format and its errors, and the domain of a profile."""

import shutil

import numpy as np
import pytest
import yaml

from hwnas.errors import OutOfDomainError, ProfileError, UnknownNameError
from hwnas.hw_profiles import (
    PROFILES_DIR, get_profile, list_profiles, load_profile, nnmeter_keys_ms, predict_archs_ms, shipped_profile_names,
)
from hwnas.search_spaces import get_space

PUBLIC_SHIPPED = ["pixel1", "pixel4", "pixel6", "raspberrypi", "titanxp", "xeon"]
#: HELP's devices: op-level profiles, one per device and batch size.
HELP_SHIPPED = [f"{gpu}{batch}" for gpu in ("1080ti", "2080ti", "titanx", "v100") for batch in ("", "-b32", "-b64")] + [
    "titanxp-b32", "titanxp-b64", "gold-6226", "gold-6240", "silver-4114", "silver-4210r",
    "pixel2", "pixel3", "samsung-a50", "samsung-s7", "essential-ph-1"]
SHIPPED = sorted(PUBLIC_SHIPPED + HELP_SHIPPED)


@pytest.fixture(scope="module")
def hat_space():
    return get_space("mixed-attention", "hat-wmt14-en-de")


def test_every_device_ships_with_provenance_and_validation():
    assert shipped_profile_names() == SHIPPED
    for profile in list_profiles():
        assert profile.provenance["licence"].startswith("MIT")
        assert (PROFILES_DIR / profile.device / "predictor.json").stat().st_size < 1_000_000
        if profile.domain["features"] == "op-level-v1":  # HELP's devices and HAT's: one fit over every file of the device
            sources = profile.provenance["sources"]
            hat = [s for s in sources if "workload" in s]
            assert all(s["sha256"] and ("column" in s or s in hat) for s in sources)
            assert profile.n_measurements == 5000 * (len(sources) - len(hat)) + 2000 * len(hat)
            assert set(profile.validation["per_source"]) == {s["label"] for s in sources}
            assert profile.batch in (1, 32, 64) and (not hat or profile.batch == 1)
            assert profile.metrics["acc10"] >= 0.5 and profile.metrics["kendall_tau"] >= 0.5  # phones: whole ms
            for s in hat:  # HAT's transformers: as well as HAT's own MLP predictor (benchmarks/predictors_hat.py)
                assert profile.validation["per_source"][s["label"]]["acc10"] >= 0.8
                assert profile.validation["per_source"][s["label"]]["kendall_tau"] >= 0.8
            continue
        assert profile.provenance["sha256"] and profile.batch == 1 and profile.kind == "mobile-cpu"
        assert profile.n_measurements == 12116
        assert min(k["acc10"] for k in profile.validation["per_kind"].values()) >= 0.97
    assert {s["label"] for s in get_profile("titanxp").provenance["sources"]} == {  # one TITAN Xp at batch 1
        "wmt14ende_gpu_titanxp_all.csv", "iwslt14deen_gpu_titanxp_all.csv", "ofa_latency_ms.csv:titan_xp_1",
        "fbnet_latency_ms.csv:titanxp_1"}


@pytest.mark.parametrize("device,tolerance", [("xeon", 0.2), ("raspberrypi", 0.06), ("titanxp", 0.2)])
def test_hat_named_archs_near_their_published_latency(hat_space, device, tolerance):
    """HAT named its SubTransformers by the latency it measured on each device (e.g. hat-xeon-137.9ms)."""
    profile = get_profile(device)
    named = {k: v for k, v in hat_space.named_archs().items() if k.startswith(f"hat-{device}-")}
    published = np.array([float(k.rsplit("-", 1)[1][:-2]) if k.endswith("ms") else 1000 * float(k.rsplit("-", 1)[1][:-1]) for k in named])
    predicted = predict_archs_ms(profile, hat_space, list(named.values()))
    assert len(named) >= 5
    assert np.all(np.abs(predicted / published - 1) <= tolerance), dict(zip(named, predicted))


def test_hat_devices_price_cosformer_by_composition(hat_space):
    """HAT measured softmax attention only: a cosFormer layer is composed of the matmuls and passes HAT's ops measured."""
    from hwnas.hw_profiles._predict import explain_arch

    arch = hat_space.named_arch("hat-xeon-137.9ms")
    cos = arch.replace(decoder_attn=["cosformer"])
    softmax_ms, cos_ms = predict_archs_ms(get_profile("xeon"), hat_space, [arch, cos])
    assert cos_ms != softmax_ms and abs(cos_ms / softmax_ms - 1) < 0.2
    assert explain_arch(get_profile("xeon"), hat_space, arch).share("measured") == pytest.approx(1.0)
    explained = explain_arch(get_profile("xeon"), hat_space, cos)
    assert explained.classes["attention-cosformer"][1] in ("composed", "extrapolated")
    assert explained.share("measured") < 1 and "attention-cosformer" not in get_profile("xeon").domain["op_classes"]


def test_other_spaces_and_block_profiles(hat_space):
    lighthubert = get_space("lighthubert", "base")  # its waveform front end's GroupNorm is far beyond HAT's LayerNorms
    with pytest.raises(OutOfDomainError, match="op class 'groupnorm' has no basis in profile 'xeon'"):
        predict_archs_ms(get_profile("xeon"), lighthubert, [lighthubert.min_arch()])
    from hwnas.hw_profiles._predict import explain_arch, phone_block_report

    lighthubert = get_space("lighthubert", "base")  # no nn-Meter blocks: priced by the table's ops, mostly not measured
    with pytest.raises(OutOfDomainError, match="space lighthubert has no nn-Meter block decomposition"):
        phone_block_report(get_profile("pixel4"), lighthubert, lighthubert.min_arch())
    explained = explain_arch(get_profile("pixel4"), lighthubert, lighthubert.min_arch())
    assert 0 < explained.share("measured") < 1 and explained.classes["conv1d-k3"][1] != "measured"
    with pytest.raises(OutOfDomainError, match="'transffn_7_152_9_hard_swish_ln': expand = 9 is outside profile 'pixel4'"):
        nnmeter_keys_ms(get_profile("pixel4"), ["transffn_7_152_3_hard_swish_ln", "transffn_7_152_9_hard_swish_ln"])


def test_unseen_nnmeter_block_is_priced_by_the_regressor():
    profile = get_profile("pixel6")
    seen, unseen = "transffn_7_152_3_hard_swish_ln", "transffn_7_156_3_hard_swish_ln"  # width 156 was never measured
    ms = nnmeter_keys_ms(profile, [seen, unseen])
    assert ms[0] == profile.model.parts["blocks"].table_[seen]
    assert 1.0 < ms[1] / ms[0] < 1.15  # 3% wider: a little slower


def test_unknown_device_names_the_choices():
    with pytest.raises(UnknownNameError, match="unknown device profile .* 'pixel9'; choose one of: 1080ti, .*, pixel1, pixel2, pixel3, pixel4"):
        get_profile("pixel9")
    for merged in ("titanxp-b1", "titanxp-iwslt14"):  # shipped names of earlier releases say where they went
        with pytest.raises(UnknownNameError, match=rf"^device profile '{merged}' is now part of 'titanxp': one TITAN Xp"):
            get_profile(merged)


def _copy(tmp_path, name="xeon"):
    target = tmp_path / name
    shutil.copytree(PROFILES_DIR / name, target)
    return target


@pytest.mark.parametrize("edit,message", [
    (lambda d: d.pop("runtime"), "field 'runtime' is missing"),
    (lambda d: d.update(kind="toaster"), "field 'kind' = 'toaster' is not one of"),
    (lambda d: d.update(format_version=2), "'format_version' = 2 is newer than this hwnas reads"),
    (lambda d: d["provenance"].pop("licence"), "field 'provenance.licence' is missing"),
    (lambda d: d.update(threads="many"), "field 'threads' must be int"),
    (lambda d: d["predictor"].update(file="../evil.json"), "must be a file name beside profile.yaml"),
    (lambda d: d["validation"].pop("metrics"), "field 'validation.metrics' is missing"),
])
def test_incomplete_profile_names_file_and_field(tmp_path, edit, message):
    folder = _copy(tmp_path)
    data = yaml.safe_load((folder / "profile.yaml").read_text())
    edit(data)
    (folder / "profile.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ProfileError, match=message) as info:
        load_profile(folder)
    assert str(folder / "profile.yaml") in str(info.value)


def test_corrupt_files(tmp_path):
    folder = _copy(tmp_path)
    (folder / "predictor.json").write_text('{"format_version": 1, "features": "hat-ops-v1", "parts": {"encoder": {"kind": "op-cost-linear", "format_version": 1}}}')
    with pytest.raises(ProfileError, match="parts.encoder: op-cost-linear predictor lacks field 'ridge'"):
        load_profile(folder).model
    (folder / "predictor.json").write_text("{not json")
    with pytest.raises(ProfileError, match="predictor.json: not valid JSON"):
        load_profile(folder).model
    (folder / "predictor.json").unlink()
    with pytest.raises(ProfileError, match="predictor file not found"):
        load_profile(folder).model
    (folder / "profile.yaml").write_text("device: [unclosed")
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(folder)
    with pytest.raises(ProfileError, match="profile file not found"):
        load_profile(tmp_path / "nowhere")
