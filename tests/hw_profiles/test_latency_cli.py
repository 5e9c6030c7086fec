"""`hwnas profile calibrate --source help-csv` and `hwnas latency [--explain]`: real files, real profiles."""

from __future__ import annotations

import json

import pytest

from tests.hw_profiles.test_cli import hwnas


@pytest.fixture(scope="module")
def gpu_profile(tmp_path_factory, small_help):
    """One TITAN Xp profile (batch 32) fitted on 300 OFA and 300 FBNet subnets."""
    out = tmp_path_factory.mktemp("profiles") / "titanxp-b32"
    result = hwnas("profile", "calibrate", "--source", "help-csv", small_help["ofa-mbv3"], small_help["fbnet"],
                   "--device", "titan_xp_32", "--device", "titanxp_32", "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["name"] == "titanxp-b32" and facts["n_measurements"] == 600
    assert set(facts["validation"]["per_source"]) == {"ofa_latency_ms.csv:titan_xp_32", "fbnet_latency_ms.csv:titanxp_32"}
    assert facts["validation"]["metrics"]["acc10"] > 0.8
    return out


def test_predict_scores_a_help_file(gpu_profile, small_help):
    result = hwnas("profile", "predict", small_help["fbnet"], "--profile", gpu_profile, "--source", "help-csv",
                   "--column", "titanxp_32", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["predictions"]) == 300 and report["metrics"]["acc10"] > 0.8


def test_latency_explains_where_the_ms_come_from(gpu_profile):
    result = hwnas("latency", "fbnet", "--device", gpu_profile, "--arch", "max", "--explain", "--json")
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout)
    explain = row["explain"]
    assert row["latency_ms"] == pytest.approx(explain["ms"]) and explain["share"]["measured"] == pytest.approx(1.0)
    assert sum(entry["ms"] for entry in explain["classes"]) + explain["overhead_ms"] + explain["correction_ms"] == pytest.approx(explain["ms"])
    table = hwnas("latency", "mixed-attention", "--preset", "tiny", "--device", gpu_profile, "--arch", "max", "--explain")
    assert table.returncode == 0 and "composed" in table.stdout and "of the predicted ms: measured" in table.stdout


def test_latency_says_what_its_milliseconds_are_of():
    """HAT's space is priced as HAT measured it (a decode); other presets as one forward pass."""
    hat = hwnas("latency", "mixed-attention", "--preset", "hat-wmt14-en-de", "--device", "xeon", "--arch", "hat-xeon-137.9ms")
    assert hat.returncode == 0, hat.stderr
    assert "latency = translate one sentence as HAT measured it" in " ".join(hat.stdout.split())
    assert abs(float(hat.stdout.split(" ms on xeon")[0].split()[-1]) / 137.9 - 1) < 0.2
    tiny = hwnas("latency", "mixed-attention", "--preset", "tiny-mt", "--device", "xeon", "--arch", "max", "--json")
    assert tiny.returncode == 0 and json.loads(tiny.stdout)["workload"] == "one forward pass, batch 1"
    batched = hwnas("latency", "mixed-attention", "--preset", "tiny-mt", "--device", "v100-b64", "--arch", "max", "--json")
    assert json.loads(batched.stdout)["workload"] == "one forward pass, batch 64"
    hat64 = hwnas("latency", "mixed-attention", "--preset", "hat-wmt14-en-de", "--device", "v100-b64", "--arch", "max", "--json")
    assert json.loads(hat64.stdout)["workload"].endswith("profile 'v100-b64' was measured on batches of 64")


def test_latency_of_many_archs_reports_each_out_of_domain_one(gpu_profile, tmp_path):
    archs = tmp_path / "archs.jsonl"
    sampled = hwnas("sample", "lighthubert", "--preset", "base", "-n", "3")  # its front end's convs dwarf any the GPU ran
    assert sampled.returncode == 0, sampled.stderr
    archs.write_text(sampled.stdout)
    result = hwnas("latency", "lighthubert", "--preset", "base", "--device", gpu_profile, "--archs", archs, "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3 and any("out_of_domain" in r for r in rows) and result.returncode == 1
    assert all("op class" in r["out_of_domain"] for r in rows if "out_of_domain" in r)


@pytest.mark.parametrize("args,message", [
    (["latency", "fbnet", "--device", "xeon"], "give one of --arch or --archs"),
    (["latency", "fbnet", "--device", "xeon", "--arch", '{"blocks": ["k9"]}'], "fbnet"),
    (["latency", "fbnet", "--device", "nope", "--arch", "max"], "unknown device profile"),
])
def test_bad_latency_input_is_one_line(args, message):
    result = hwnas(*args)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1


def test_calibrate_refuses_mismatched_inputs(small_help, tmp_path):
    wrong_space = hwnas("profile", "calibrate", "--source", "help-csv", small_help["ofa-mbv3"], "--device", "v100_1",
                        "--space", "fbnet", "--out", tmp_path / "x")
    assert wrong_space.returncode == 2 and "subnets of 'ofa-mbv3', not of --space 'fbnet'" in wrong_space.stderr
    batches = hwnas("profile", "calibrate", "--source", "help-csv", small_help["ofa-mbv3"], small_help["fbnet"],
                    "--device", "2080ti_1", "--device", "2080ti_32", "--out", tmp_path / "y")
    assert batches.returncode == 2 and "different batch sizes" in batches.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def write_own_csv(path):
    """A user's own measurements: 60 `mobiledets/tiny` subnets on a device with known unit costs."""
    from hwnas.search_spaces import get_space
    from tests.hw_profiles.test_op_level import known_device_ms

    space = get_space("mobiledets", "tiny")
    archs = [space.sample(i) for i in range(60)]
    path.write_text("arch,laptop\n" + "".join(f'"{a.to_json().replace(chr(34), chr(34) * 2)}",{known_device_ms(space, a):.6f}\n'
                                              for a in archs))
    return path


@pytest.fixture(scope="module")
def own_csv(tmp_path_factory):
    return write_own_csv(tmp_path_factory.mktemp("own") / "laptop.csv")


def test_your_own_csv_calibrates_a_profile_of_your_device(own_csv, tmp_path):
    out = tmp_path / "laptop"
    made = hwnas("profile", "calibrate", "--source", "arch-csv", own_csv, "--space", "mobiledets", "--preset", "tiny",
                 "--device", "laptop", "--out", out, "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["validation"]["metrics"]["acc5"] == 1.0
    scored = hwnas("profile", "predict", own_csv, "--profile", out, "--source", "arch-csv", "--json")
    assert scored.returncode == 0 and json.loads(scored.stdout)["metrics"]["mape"] < 0.02
    other = hwnas("latency", "emov2", "--preset", "tiny", "--device", out, "--arch", "max", "--explain", "--json")
    assert other.returncode == 0 and json.loads(other.stdout)["explain"]["share"]["measured"] < 1.0


@pytest.mark.parametrize("edit,args,message", [
    (lambda t: t, ["--space", "emov2", "--preset", "tiny"], "line 2, column 'arch': emov2/tiny: unknown arch field"),
    (lambda t: t, ["--preset", "tiny"], "reads one FILE of subnets of --space SPACE"),
    (lambda t: t.replace("arch,laptop", "arch,phone"), ["--space", "mobiledets", "--preset", "tiny"], "no latency column 'laptop'; columns: phone"),
    (lambda t: "arch,laptop\n" + t.splitlines(keepends=True)[1], ["--space", "mobiledets", "--preset", "tiny"], "1 measured subnets"),
])
def test_bad_own_csv_is_one_line(own_csv, tmp_path, edit, args, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(edit(own_csv.read_text()))
    result = hwnas("profile", "calibrate", "--source", "arch-csv", bad, *args, "--device", "laptop", "--out", tmp_path / "p")
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "p").exists()
