"""The `hwnas` command, run as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hwnas.search_spaces import Arch, get_space


def hwnas(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hwnas.cli", *args], capture_output=True, text=True, timeout=300)


def test_spaces_json_lists_every_preset():
    out = hwnas("spaces", "--json")
    assert out.returncode == 0, out.stderr
    rows = {(r["space"], r["preset"]): r for r in json.loads(out.stdout)}
    assert rows[("lighthubert", "base")]["num_subnets"] == 6_530_347_008
    assert rows[("mixed-attention", "tiny")]["min_params_m"] < rows[("mixed-attention", "tiny")]["max_params_m"]
    assert "hat-raspberrypi-6.0s" in rows[("mixed-attention", "hat-wmt14-en-de")]["named_archs"]


def test_sample_is_seeded_and_valid():
    first, again = hwnas("sample", "lighthubert", "--preset", "small", "-n", "4", "--seed", "3"), \
        hwnas("sample", "lighthubert", "--preset", "small", "-n", "4", "--seed", "3")
    assert first.returncode == 0 and first.stdout == again.stdout
    space = get_space("lighthubert", "small")
    archs = [space.validate(Arch.from_json(line)) for line in first.stdout.splitlines()]
    assert len(archs) == 4 and len({a.id for a in archs}) == 4


def test_cost_json_reports_fvcore_and_op_counts(tmp_path):
    space = get_space("mixed-attention", "tiny")
    arch_file = tmp_path / "arch.json"
    arch_file.write_text(space.min_arch().to_json(indent=2))
    out = hwnas("cost", "mixed-attention", "--preset", "tiny", "--arch", str(arch_file), "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["arch_id"] == space.min_arch().id
    assert result["macs"] == result["ops_macs"] > 0 and result["params"] > 0


def test_cost_accepts_named_archs_and_input_size():
    out = hwnas("cost", "mixed-attention", "--preset", "cifar10-vit", "--arch", "min", "--input", "32", "--num-classes", "100", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["input_shape"] == [3, 32, 32]


@pytest.mark.parametrize("args,message", [
    (("cost", "nope", "--arch", "max"), "unknown search space 'nope'; choose one of: emov2, fbnet, lighthubert, mixed-attention, mobiledets, ofa-mbv3"),
    (("cost", "lighthubert", "--preset", "huge", "--arch", "max"), "unknown preset of space 'lighthubert' 'huge'"),
    (("cost", "lighthubert", "--arch", '{"embed_dim": 32}'), "arch field 'layers' is missing"),
    (("cost", "lighthubert", "--arch", "{broken"), "not valid JSON"),
    (("cost", "lighthubert", "--arch", "no-such-file.json"), "neither JSON, a file"),
    (("cost", "mixed-attention", "--arch", "max", "--input", "a,b"), "--input 'a,b' must be"),
    (("sample", "nope"), "unknown search space 'nope'"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, message):
    out = hwnas(*args)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and message in out.stderr, out.stderr


def test_help_lists_every_command_with_its_own_summary():
    """`hwnas --help` reads `COMMANDS` without importing the modules; each line must be the command's docstring."""
    import typer

    from hwnas.cli import COMMANDS, app

    commands = typer.main.get_command(app).commands
    assert set(commands) == set(COMMANDS)
    for name, (_, summary) in COMMANDS.items():
        command = commands[name]
        own = (command.help or "").strip().splitlines()[0] if command.help else ""
        assert summary == own or summary == (command.short_help or ""), f"{name}: {summary!r} != {own!r}"
    out = hwnas("--help")
    assert out.returncode == 0 and all(name in out.stdout for name in COMMANDS)


_IMPORTS_AFTER = ("import sys; sys.argv = ['hwnas', *{args!r}]\n"
                  "from hwnas.cli import main\n"
                  "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
                  "print(sorted(m for m in ('torch', 'optuna', 'scipy', 'sklearn', 'dash') if m in sys.modules))")


@pytest.mark.parametrize("args", [["--help"], ["devices"], ["devices", "--json"]])
def test_fast_commands_import_no_heavy_package(args):
    """Start-up: `--help` and `devices` must not import torch, Optuna or Dash (the benchmark times them)."""
    out = subprocess.run([sys.executable, "-c", _IMPORTS_AFTER.format(args=args)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
