"""`hwnas profile …` and `hwnas devices`: in-process through Typer's runner, and once as a real subprocess."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from hwnas.cli import app as APP
from hwnas.hw_profiles import load_profile

DRIVER = "import sys; from hwnas.cli import main; sys.argv = ['hwnas', *sys.argv[1:]]; main()"


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def hwnas(*args: str) -> Result:
    out = CliRunner().invoke(APP, [str(a) for a in args], prog_name="hwnas")
    if out.exception is not None and not isinstance(out.exception, SystemExit):
        raise out.exception
    return Result(out.exit_code, out.stdout, out.stderr)


def test_devices_as_a_real_process():
    out = subprocess.run([sys.executable, "-c", DRIVER, "devices", "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == 29
    bad = subprocess.run([sys.executable, "-c", DRIVER, "profile", "predict", "--profile", "pixel9", "--source", "hat-csv", "x.csv"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("hwnas: error: unknown device profile") and bad.stderr.count("\n") == 1


def test_devices_lists_every_shipped_profile():
    out = hwnas("devices", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert {"pixel1", "pixel4", "pixel6", "raspberrypi", "titanxp", "xeon", "v100-b64", "pixel2"} <= set(rows)
    assert len(rows) == 29 and rows["v100-b64"]["features"] == "op-level-v1"
    assert rows["xeon"]["kind"] == "cpu" and rows["pixel4"]["n_measurements"] == 12116 and rows["xeon"]["acc10"] > 0.8
    table = hwnas("devices")
    assert table.returncode == 0 and "raspberrypi" in table.stdout and "mobile-cpu" in table.stdout


def test_calibrate_then_predict_scores_unseen_measurements(small_hat_csv, hat_xeon_csv, tmp_path):
    out_dir = tmp_path / "xeon-small"
    made = hwnas("profile", "calibrate", "--source", "hat-csv", small_hat_csv, "--out", out_dir, "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["n_measurements"] == 400 and (out_dir / "profile.yaml").is_file()
    scored = hwnas("profile", "predict", "--profile", out_dir, "--source", "hat-csv", hat_xeon_csv, "--json")
    assert scored.returncode == 0, scored.stderr
    result = json.loads(scored.stdout)
    assert len(result["predictions"]) == 2000 and result["metrics"]["acc10"] > 0.8  # 1,600 rows it never saw


def test_several_hat_files_of_one_device_make_one_fit(hwnas_data, tmp_path):
    """A device's WMT'14 and IWSLT'14 runs (each with the sentence length and vocabulary it ran) in one profile."""
    files = []
    for name in ("wmt14ende_gpu_titanxp_all.csv", "iwslt14deen_gpu_titanxp_all.csv"):
        lines = (hwnas_data / "hat-latency" / name).read_text().splitlines(keepends=True)
        files.append(tmp_path / name)
        files[-1].write_text("".join(lines[:301]))
    made = hwnas("profile", "calibrate", "--source", "hat-csv", *files, "--out", tmp_path / "gpu", "--json")
    assert made.returncode == 0, made.stderr
    facts = json.loads(made.stdout)
    assert facts["n_measurements"] == 600 and facts["name"] == "titanxp" and set(facts["validation"]["per_source"]) == {
        f.name for f in files}
    assert {s["workload"]["decode_steps"] for s in load_profile(tmp_path / "gpu").provenance["sources"]} == {30, 23}
    other = tmp_path / "wmt14ende_cpu_xeon_all.csv"
    other.write_text(files[0].read_text())
    mixed = hwnas("profile", "calibrate", "--source", "hat-csv", files[0], other, "--out", tmp_path / "mixed")
    assert mixed.returncode == 2 and "name different devices (titanxp, xeon)" in mixed.stderr
    assert len(mixed.stderr.strip().splitlines()) == 1 and not (tmp_path / "mixed").exists()


def test_predict_nnmeter_keys_with_a_shipped_profile(small_lut):
    out = hwnas("profile", "predict", "--profile", "pixel1", "--source", "nnmeter-lut", small_lut, "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert len(result["predictions"]) == len(json.loads(small_lut.read_text()))
    assert {"key", "kind", "predicted_ms", "measured_ms"} <= set(result["predictions"][0])


@pytest.mark.parametrize("args,message", [
    (("profile", "calibrate", "--source", "hat-csv", "missing.csv", "--out", "{out}"), "missing.csv: file not found"),
    (("profile", "calibrate", "--source", "csv", "x.csv", "--out", "{out}"), "unknown calibration source 'csv'; choose one of: arch-csv, hat-csv, help-csv, nnmeter-lut"),
    (("profile", "calibrate", "--source", "nnmeter-lut", "{bad}", "--out", "{out}"), "not valid JSON"),
    (("profile", "predict", "--profile", "pixel9", "--source", "hat-csv", "x.csv"), "unknown device profile"),
    (("profile", "measure", "--device", "local-gpu", "--space", "mixed-attention", "--out", "{out}"), "no CUDA GPU"),
    (("profile", "measure", "--device", "tpu", "--space", "mixed-attention", "--out", "{out}"), "unknown measurable device 'tpu'"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, message):
    bad = tmp_path / "bad.json"
    bad.write_text("{broken")
    out_dir = tmp_path / "out"
    result = hwnas(*(a.format(out=out_dir, bad=bad) for a in args))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not out_dir.exists() and [p.name for p in tmp_path.iterdir()] == ["bad.json"]


def test_newer_profile_format_is_refused(tmp_path):
    import shutil

    from hwnas.hw_profiles import PROFILES_DIR

    folder = tmp_path / "future"
    shutil.copytree(PROFILES_DIR / "xeon", folder)
    text = (folder / "profile.yaml").read_text().replace("format_version: 1", "format_version: 7")
    (folder / "profile.yaml").write_text(text)
    out = hwnas("profile", "predict", "--profile", folder, "--source", "hat-csv", "x.csv")
    assert out.returncode == 2 and "'format_version' = 7 is newer than this hwnas reads (1)" in out.stderr


def test_measure_and_validate_on_this_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("HWNAS_LOCK_DIR", str(tmp_path / "locks"))
    run = hwnas

    out_dir = tmp_path / "local"
    made = run("profile", "measure", "--device", "local-cpu", "--runtime", "torch", "--space", "mixed-attention",
               "--preset", "tiny", "-n", "6", "--repeats", "3", "--warmup", "1", "--out", out_dir, "--blocks", "2", "--pause", "0", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["name"] == "local-cpu"
    checked = run("profile", "validate", "--profile", out_dir, "--space", "mixed-attention", "--preset", "tiny",
                  "-n", "3", "--repeats", "3", "--max-drift", "1", "--json")
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["n"] == 3 and {"acc10", "kendall_tau", "archs"} <= set(report) and abs(report["anchor_drift"]) <= 1
