"""The bad-input corpus: every bad input a user can give gets one line on stderr and exit code 2.

One case per line: the `hwnas` arguments (`{d}` is a folder of prepared bad files, `{store}` a real
storage with one small experiment) and words the message must contain. A new command or option adds
its bad inputs here. Commands run in-process through `hwnas.cli.run`, the entry point's own path.
"""

from __future__ import annotations

import json
import pickle
import re
import shlex
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from hwnas.cli import run
from hwnas.hw_profiles import get_profile
from hwnas.search import Experiment, parse_spec
from hwnas.search_spaces import get_space

QUICK = {"name": "q", "space": {"name": "mixed-attention", "preset": "tiny"},
         "objectives": [{"metric": "params_m", "direction": "minimize"}, {"metric": "flops_m", "direction": "minimize"}],
         "searcher": {"kind": "optuna", "sampler": "random"}, "budget": {"trials": 2}}
TRAIN = "train-supernet --space mixed-attention --preset tiny --task mnist1d --epochs 1 --out {d}/new-supernet"
EXTRACT = "extract --arch max --space mixed-attention --preset tiny"

CORPUS: list[tuple[str, tuple[str, ...]]] = [
    # experiment specs
    ("run {d}/missing.yaml", ("missing.yaml", "not found")),
    ("run {d}/folder", ("is a directory",)),
    ("run {d}/binary.yaml", ("not UTF-8",)),
    ("run {d}/duplicate.yaml", ("duplicate key 'seed'",)),
    ("run {d}/bomb.yaml", ("expands to more than",)),
    ("run {d}/huge.yaml", ("bytes; an experiment spec is at most",)),
    ("run {d}/malformed.yaml", ("malformed YAML",)),
    ("run {d}/python-tag.yaml", ("malformed YAML",)),
    ("run {d}/list.yaml", ("must be a YAML mapping",)),
    ("run {d}/bool-trials.yaml", ("budget.trials", "must be a number, got true")),
    ("run {d}/zero-trials.yaml", ("budget.trials", "greater than 0")),
    ("run {d}/sampler.yaml", ("searcher.sampler", "'tpe'")),
    ("run {d}/kind.yaml", ("searcher.kind", "'evolution', 'optuna' or 'ray'")),
    ("run {d}/population.yaml", ("searcher.options.population_size", "takes an integer, got 'abc'")),
    ("run {d}/option.yaml", ("nsga2 sampler has no option 'populaton_size'",)),
    ("run {d}/seed.yaml", ("seed:", "less than 4294967296")),
    ("run {d}/metric.yaml", ("unknown metric 'top5_accuracy'",)),
    ("run {d}/space.yaml", ("unknown search space 'resnet'",)),
    ("run {d}/proxy-batch.yaml", ("task.options.proxy_batch", "positive integer")),
    ("run {d}/long-value.yaml", ("searcher.sampler", "characters)")),
    ("run {d}/decode-measured.yaml", ("objectives.0", "latency is defined as: translate one sentence", "cannot measure")),
    ("run {d}/extra-key.yaml", ("colour", "Extra inputs are not permitted")),
    ("run {d}/constraint.yaml", ("must look like",)),
    ("run {d}/quick.yaml --workers 0", ("--workers",)),
    ("run {d}/quick.yaml --bogus", ("No such option: --bogus",)),
    ("run {d}/quick.yaml --storage sqlite:///", ("names no file",)),
    ("run {d}/quick.yaml --storage sqlite:///{d}/folder", ("is a directory, not a storage file",)),
    ("run {d}/quick.yaml --storage sqlite:///{d}/no/such/folder/x.db", ("does not exist",)),
    # architectures and sizes
    ("cost nope --arch max", ("unknown search space 'nope'",)),
    ("cost mixed-attention --preset huge --arch max", ("unknown preset",)),
    ("cost mixed-attention --preset tiny --arch {{broken", ("not valid JSON",)),
    ("cost mixed-attention --preset tiny --arch {d}/binary.yaml", ("not UTF-8",)),
    ("cost mixed-attention --preset tiny --arch {d}/folder", ("is a directory",)),
    ("cost mixed-attention --preset tiny --arch {d}/deep.json", ("nested too deeply",)),
    ("cost mixed-attention --preset tiny --arch {d}/missing.json", ("neither JSON, a file",)),
    ("cost mixed-attention --preset tiny --arch {d}/half-width.json", ("'embed_dim' = 64.5 is not one of",)),
    ("cost mixed-attention --preset tiny --arch {d}/bool-width.json", ("'embed_dim' = True is not one of",)),
    ("cost mixed-attention --preset tiny --arch max --input 0", ("positive",)),
    ("cost mixed-attention --preset tiny --arch max --input -5", ("positive",)),
    ("cost mixed-attention --preset tiny --arch max --input a,b", ("must be an int",)),
    ("cost emov2 --preset tiny --arch max --num-classes 0", ("--num-classes",)),
    ("sample mixed-attention --seed -1", ("--seed",)),
    ("sample mixed-attention -n 0", ("-n",)),
    ("sample", ("Missing argument 'SPACE'",)),
    ("nosuchcommand", ("No such command",)),
    # hardware profiles
    ("profile predict {d}/hat.csv --profile {d}/nan-profile --source hat-csv", ("NaN", "finite")),
    ("profile predict {d}/hat.csv --profile {d}/dir-profile --source hat-csv", ("is a directory",)),
    ("profile predict {d}/hat.csv --profile {d}/binary-profile --source hat-csv", ("not UTF-8",)),
    ("profile predict {d}/hat.csv --profile pixel9 --source hat-csv", ("pixel9",)),
    ("profile predict {d}/hat.csv --profile {d}/nested-profile --source hat-csv", ("nested-profile/predictor.json", "'nosuch'")),
    ("profile calibrate {d}/hat.csv --source csv --out {d}/p", ("unknown calibration source 'csv'",)),
    ("profile calibrate {d}/missing.csv --source hat-csv --out {d}/p", ("missing.csv",)),
    ("profile measure --device tpu --space mixed-attention --out {d}/p", ("tpu",)),
    # tasks and supernet training
    (TRAIN + " -o num_samples=abc", ("num_samples", "valid integer")),
    (TRAIN + " -o num_samples=0", ("num_samples", "greater than or equal to 1")),
    (TRAIN + " -o num_samples=-5", ("num_samples", "greater than or equal to 1")),
    (TRAIN + " -o seed=abc", ("seed", "valid integer")),
    (TRAIN + " -o colour=red", ("unknown option(s) colour",)),
    (TRAIN + " --lr nan", ("lr must be a finite number",)),
    (TRAIN + " --lr -1", ("lr must be positive",)),
    (TRAIN + " --epochs 0", ("--epochs",)),
    ("train-supernet --space mixed-attention --task imagenet --epochs 1 --out {d}/s", ("unknown task 'imagenet'",)),
    ("train-supernet --space nope --task mnist1d --epochs 1 --out {d}/s", ("unknown search space 'nope'",)),
    ("train-supernet --space emov2 --preset tiny --task image-folder -o path={d}/bomb-images --epochs 1 --out {d}/s",
     ("too large to decode safely",)),
    ("train-supernet --space emov2 --preset tiny --task npy -o path={d}/folder --epochs 1 --out {d}/s", ("x.npy",)),
    # extract and train
    (EXTRACT + " --out {d}/a-file/sub", ("is a file, not a directory",)),
    (EXTRACT + " --out {d}/folder", ("exists; pass --force",)),
    ("extract --experiment nope --trial 0 --storage {store} --out {d}/x", ("nope",)),
    ("extract --experiment q --trial 999 --storage {store} --out {d}/x", ("trial 999 is not in",)),
    ("extract --out {d}/x", ("give --experiment NAME --trial N",)),
    ("train {d}/missing --task mnist1d --epochs 1", ("not found",)),
    ("train {d}/pickled-subnet --task mnist1d --epochs 1", ("not a tensors-only torch file",)),
    # reading a storage
    ("pareto --experiment nope --storage {store}", ("nope",)),
    ("pareto --experiment q --storage {store} --objectives bogus", ("bogus",)),
    ("pareto --experiment q --storage {store} --where 'params_m <'", ("params_m <",)),
    ("trials --experiment nope --storage {store}", ("nope",)),
    ("experiments --storage nosuchdialect://x", ("nosuchdialect",)),
    ("experiments --storage sqlite:///{d}/foreign.db", ("not an hwnas storage",)),
    ("pareto --experiment q --storage sqlite:///{d}/typo.db", ("not found",)),
    # co-design
    ("hardware sample asic", ("asic",)),
    ("hardware cost --space emov2 --preset tiny --arch max --accelerator '{{\"pe_rows\":0}}'", ("accelerator field 'pe_cols' is missing",)),
]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, hwnas_data) -> dict[str, str]:
    d = tmp_path_factory.mktemp("bad")
    (d / "folder").mkdir()
    (d / "binary.yaml").write_bytes(b"\xff\xfe\x00\x81binary")
    (d / "a-file").write_text("not a folder\n")
    spec = lambda name, **change: (d / name).write_text(yaml.safe_dump({**QUICK, **change}))  # noqa: E731
    spec("quick.yaml")
    (d / "duplicate.yaml").write_text(yaml.safe_dump(QUICK) + "seed: 1\nseed: 2\n")
    rows = "\n".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 7))
    (d / "bomb.yaml").write_text("l0: &l0 [x, x, x, x, x, x, x, x, x]\n" + rows + "\n")
    (d / "huge.yaml").write_text("name: " + "x" * 1_100_000 + "\n")
    (d / "malformed.yaml").write_text("name: [unclosed\n")
    (d / "python-tag.yaml").write_text("name: !!python/object/apply:os.system ['echo hi']\n")
    (d / "list.yaml").write_text("- a\n- b\n")
    spec("bool-trials.yaml", budget={"trials": True})
    spec("zero-trials.yaml", budget={"trials": 0})
    spec("sampler.yaml", searcher={"kind": "optuna", "sampler": "annealing"})
    spec("kind.yaml", searcher={"kind": "anneal"})
    spec("population.yaml", searcher={"kind": "optuna", "sampler": "nsga2", "options": {"population_size": "abc"}})
    spec("option.yaml", searcher={"kind": "optuna", "sampler": "nsga2", "options": {"populaton_size": 8}})
    spec("seed.yaml", seed=2**40)
    spec("metric.yaml", objectives=[{"metric": "top5_accuracy", "direction": "maximize"}])
    spec("space.yaml", space={"name": "resnet"})
    spec("proxy-batch.yaml", task={"name": "mnist1d", "options": {"proxy_batch": "abc"}},
         objectives=[{"metric": "naswot", "direction": "maximize"}])
    spec("long-value.yaml", searcher={"kind": "optuna", "sampler": "s" * 500_000})
    spec("decode-measured.yaml", space={"name": "mixed-attention", "preset": "hat-wmt14-en-de"},
         objectives=[{"metric": "latency_ms", "device": "local-cpu", "direction": "minimize"}])
    spec("extra-key.yaml", colour="red")
    spec("constraint.yaml", constraints=["params_m < 3"])
    (d / "deep.json").write_text("{\"a\": " * 200_000 + "1" + "}" * 200_000)
    hat = (hwnas_data / "hat-latency" / "wmt14ende_cpu_xeon_all.csv").read_text().splitlines()
    (d / "hat.csv").write_text("\n".join(hat[:50]) + "\n")
    for name in ("nan-profile", "dir-profile", "binary-profile", "nested-profile"):  # real profiles, then broken
        shipped = get_profile("gold-6240" if name == "nested-profile" else "xeon").path  # gold-6240 keeps a correction
        (d / name).mkdir()
        for file in shipped.iterdir():
            (d / name / file.name).write_bytes(file.read_bytes())
    predictor = d / "nan-profile" / "predictor.json"
    predictor.write_text(_with_nan(predictor.read_text()))
    nested = json.loads((d / "nested-profile" / "predictor.json").read_text())
    correction = next(iter(nested["aux"].values()))
    correction["kind"] = "nosuch"  # a predictor kind no hwnas writes, nested in the profile's space correction
    (d / "nested-profile" / "predictor.json").write_text(json.dumps(nested))
    with closing(sqlite3.connect(d / "foreign.db")) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
        db.commit()
    arch = get_space("mixed-attention", "tiny").max_arch().to_dict()
    (d / "half-width.json").write_text(json.dumps({**arch, "embed_dim": 64.5}))
    (d / "bool-width.json").write_text(json.dumps({**arch, "embed_dim": True}))
    (d / "dir-profile" / "profile.yaml").unlink()
    (d / "dir-profile" / "profile.yaml").mkdir()
    (d / "binary-profile" / "profile.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    bombs = d / "bomb-images"
    for label in ("a", "b"):
        (bombs / label).mkdir(parents=True)
        Image.new("L", (8, 8)).save(bombs / label / "small.png")
    Image.new("L", (10_000, 9_500)).save(bombs / "a" / "huge.png")
    pickled = d / "pickled-subnet"
    assert run(["extract", "--arch", "min", "--space", "mixed-attention", "--preset", "tiny", "--out", str(pickled)]) == 0
    (pickled / "model.pt").write_bytes(pickle.dumps({"weights": np.zeros(3)}))
    store = f"sqlite:///{d}/store.db"
    Experiment(parse_spec(QUICK), store).run()
    return {"d": str(d), "store": store}


def _with_nan(text: str) -> str:
    """The predictor JSON with its first number replaced by NaN (Python's json writes and reads NaN)."""
    return re.sub(r"(?<=[:\[ ])-?\d+\.\d+(e-?\d+)?", "NaN", text, count=1)


@pytest.mark.parametrize("command,words", CORPUS, ids=[c for c, _ in CORPUS])
def test_bad_input_is_one_line_and_exit_code_2(bad_files, capsys, command, words):
    args = shlex.split(command.format(**bad_files))
    before = sorted(p.name for p in Path(bad_files["d"]).iterdir())
    code = run(args)
    out = capsys.readouterr()
    assert code == 2, f"exit {code}; stderr: {out.err[-2000:]}"
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, f"{len(lines)} lines on stderr:\n{out.err[-3000:]}"
    assert lines[0].startswith("hwnas: error: ") and len(lines[0]) < 600, lines[0][:600]
    for word in words:
        assert word in lines[0], f"{word!r} not in: {lines[0]}"
    assert sorted(p.name for p in Path(bad_files["d"]).iterdir()) == before, "a refused command wrote files"
