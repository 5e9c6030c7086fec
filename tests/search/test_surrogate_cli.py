"""`hwnas surrogate fit|predict` on a real stored experiment, run as a user runs it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hwnas.predictors import GradientBoosted, SurrogateEnsemble, load_predictor, save_predictor
from hwnas.search import Experiment, parse_spec
from hwnas.search.surrogate import ArchFeatures
from hwnas.search_spaces import Arch
from tests.search.conftest import BASE


def hwnas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hwnas.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> tuple[str, Experiment]:
    """A 12-trial surrogate search of naswot and FLOPs in SQLite."""
    url = f"sqlite:///{tmp_path_factory.mktemp('surrogate')}/s.db"
    spec = parse_spec({**BASE, "budget": {"trials": 12},
                       "searcher": {"sampler": "surrogate", "options": {"initial": 5, "batch": 3, "population": 16,
                                                                         "generations": 2, "members": 2}}})
    experiment = Experiment(spec, url)
    experiment.run()
    return url, experiment


def _digest(url: str) -> str:
    return hashlib.sha256(Path(url.removeprefix("sqlite:///")).read_bytes()).hexdigest()


def test_fit_reads_only_writes_the_model_and_predict_matches_it(stored, tmp_path):
    url, experiment = stored
    before = _digest(url)
    out = tmp_path / "naswot.json"
    done = hwnas("surrogate", "fit", "--experiment", "tiny-search", "--storage", url, "--out", str(out), "--folds", "3", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["metric"] == "naswot" and summary["folds"] == 3  # the spec's expensive objective, by default
    assert summary["trials"] == sum(r.state == "COMPLETE" for r in experiment.rows()) and -1 <= summary["kendall_tau"] <= 1
    assert _digest(url) == before  # a command that only reads writes nothing to the storage

    model = load_predictor(out)
    assert isinstance(model, SurrogateEnsemble) and model.about["metric"] == "naswot"
    archs = [Arch(r.arch) for r in experiment.rows()[:3]]
    archs_file = tmp_path / "archs.jsonl"
    archs_file.write_text("".join(a.to_json() + "\n" for a in archs))
    predicted = hwnas("surrogate", "predict", "--model", str(out), "--archs", str(archs_file), "--json")
    assert predicted.returncode == 0, predicted.stderr
    rows = [json.loads(line) for line in predicted.stdout.splitlines()]
    mean, spread = model.predict_with_spread(ArchFeatures(experiment.space).rows(archs))
    assert [r["arch_id"] for r in rows] == [a.id for a in archs]
    assert [r["naswot"] for r in rows] == pytest.approx(list(mean)) and [r["naswot_std"] for r in rows] == pytest.approx(list(spread))


def test_trials_show_what_the_surrogate_expected_of_its_picks(stored):
    url, experiment = stored
    listed = hwnas("trials", "--experiment", "tiny-search", "--storage", url, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    picks = [r for r in json.loads(listed.stdout) if "surrogate" in r]
    assert picks and all(set(r["surrogate"]["naswot"]) == {"mean", "std"} for r in picks)
    assert len(picks) == sum(bool(r.surrogate) for r in experiment.rows())


@pytest.mark.parametrize("args, message", [
    (["fit", "--experiment", "nope", "--out", "{tmp}/x.json"], "unknown experiment 'nope'"),
    (["fit", "--experiment", "tiny-search", "--metric", "accuracy", "--out", "{tmp}/x.json"],
     "no complete trial with metric 'accuracy'"),
    (["predict", "--model", "{tmp}/corrupt.json", "--arch", "max"], "not valid JSON"),
    (["predict", "--model", "{tmp}/latency.json", "--arch", "max"], "not a surrogate written by `hwnas surrogate fit`"),
    (["predict", "--model", "{tmp}/naswot.json", "--arch", '{"embed_dim": 7}'], "arch field 'layers' is missing"),
])
def test_bad_input_is_one_line_and_exit_2(stored, tmp_path, args, message):
    url, _ = stored
    (tmp_path / "corrupt.json").write_text("{not json")
    save_predictor(GradientBoosted(n_estimators=5, min_child_samples=1).fit([[1.0], [2.0], [3.0]], [1.0, 2.0, 3.0]),
                   tmp_path / "latency.json")
    if "naswot.json" in " ".join(args):
        assert hwnas("surrogate", "fit", "--experiment", "tiny-search", "--storage", url, "--out", str(tmp_path / "naswot.json"),
                     "--folds", "3").returncode == 0
    storage = ["--storage", url] if args[0] == "fit" else []
    done = hwnas("surrogate", *[a.replace("{tmp}", str(tmp_path)) for a in args], *storage)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert message in done.stderr
