"""Reading commands never write: `hwnas experiments|pareto|trials|dashboard|extract` open storage read-only,
refuse a file that is not an hwnas storage (or is not there) in one line, and leave every byte as it was.
Run as a user runs them (real subprocesses); `hwnas run` refuses a storage URL without a file."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest

from hwnas.dashboard import TrialStore
from hwnas.errors import StorageError
from hwnas.search import list_experiments, open_storage
from hwnas.search.queries import all_rows, front_rows

SPEC = """\
name: tiny-ro
space: {name: mixed-attention, preset: tiny}
objectives:
  - {metric: params_m, direction: minimize}
  - {metric: flops_m, direction: minimize}
searcher: {kind: optuna, sampler: random}
budget: {trials: 4}
seed: 0
"""


def hwnas(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hwnas", *map(str, args)], check=False, capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_commands(url: str) -> dict[str, list[str]]:
    """Every command that only reads, pointed at `url`."""
    return {
        "experiments": ["experiments", "--storage", url],
        "pareto": ["pareto", "--experiment", "tiny-ro", "--storage", url],
        "trials": ["trials", "--experiment", "tiny-ro", "--storage", url],
        "dashboard": ["dashboard", "--storage", url, "--port", str(_free_port())],  # must fail before it serves
    }


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file in `folder` with its bytes and mtime: a read leaves no journal, WAL or new file behind."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def tables(path: Path) -> set[str]:
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def assert_one_line_error(out: subprocess.CompletedProcess, *parts: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("hwnas: error: "), out.stderr
    assert all(p in out.stderr for p in parts), out.stderr


@pytest.fixture
def foreign_db(tmp_path: Path) -> Path:
    """Another application's SQLite file: one table of its own."""
    path = tmp_path / "other-app" / "notes.db"
    path.parent.mkdir()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.close()
    return path


@pytest.fixture(scope="module")
def hwnas_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real storage made by a tiny `hwnas run`."""
    folder = tmp_path_factory.mktemp("hwnas-run")
    (folder / "spec.yaml").write_text(SPEC)
    path = folder / "store" / "runs.db"
    path.parent.mkdir()
    out = hwnas("run", folder / "spec.yaml", "--storage", f"sqlite:///{path}")
    assert out.returncode == 0, out.stderr
    return path


@pytest.mark.parametrize("command", ["experiments", "pareto", "trials", "dashboard"])
def test_a_foreign_sqlite_file_is_refused_and_untouched(foreign_db: Path, command: str) -> None:
    url = f"sqlite:///{foreign_db}"
    before = snapshot(foreign_db.parent)
    out = hwnas(*read_commands(url)[command])
    assert_one_line_error(out, f"{url}: not an hwnas storage (no Optuna tables)")
    assert snapshot(foreign_db.parent) == before
    assert tables(foreign_db) == {"notes"}


def test_extract_reads_a_trial_without_writing(foreign_db: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{foreign_db}"
    before = snapshot(foreign_db.parent)
    out = hwnas("extract", "--experiment", "tiny-ro", "--trial", "0", "--out", tmp_path / "out", "--storage", url)
    assert_one_line_error(out, "not an hwnas storage")
    assert snapshot(foreign_db.parent) == before


@pytest.mark.parametrize("command", ["experiments", "pareto", "trials", "dashboard"])
def test_a_missing_file_is_not_created(tmp_path: Path, command: str) -> None:
    path = tmp_path / "typo.db"
    out = hwnas(*read_commands(f"sqlite:///{path}")[command])
    assert_one_line_error(out, f"sqlite:///{path}: not found")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["experiments", "trials"])
def test_journal_files_are_checked_too(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "typo.log"
    assert_one_line_error(hwnas(*read_commands(f"journal:///{missing}")[command]), f"journal:///{missing}: not found")
    assert list(tmp_path.iterdir()) == []
    text = tmp_path / "readme.txt"
    text.write_text("not a journal\n")
    before = snapshot(tmp_path)
    assert_one_line_error(hwnas(*read_commands(f"journal:///{text}")[command]), "not an hwnas storage (not an Optuna journal)")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite://", "journal:///"])
def test_a_url_without_a_file_is_refused_by_run(tmp_path: Path, url: str) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    out = hwnas("run", "spec.yaml", "--storage", url, cwd=tmp_path)
    assert_one_line_error(out, f"storage {url!r} names no file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]  # no experiments/ folder, no database


@pytest.mark.parametrize("command", ["experiments", "pareto", "trials", "dashboard"])
def test_a_url_without_a_file_is_refused_by_readers(command: str) -> None:
    assert_one_line_error(hwnas(*read_commands("sqlite:///")[command]), "storage 'sqlite:///' names no file")


def test_an_hwnas_storage_is_read_and_untouched(hwnas_db: Path) -> None:
    url = f"sqlite:///{hwnas_db}"
    before, optuna_tables = snapshot(hwnas_db.parent), tables(hwnas_db)
    listed = hwnas("experiments", "--storage", url, "--json")
    assert listed.returncode == 0, listed.stderr
    [summary] = json.loads(listed.stdout)
    assert summary["name"] == "tiny-ro" and summary["trials_done"] == 4
    front = hwnas("pareto", "--experiment", "tiny-ro", "--storage", url, "--format", "json", "--where", "params_m < 1")
    assert front.returncode == 0, front.stderr
    assert json.loads(front.stdout) and all(f"--storage {url}" in row["extract"] for row in json.loads(front.stdout))
    trials = hwnas("trials", "--experiment", "tiny-ro", "--storage", url, "--format", "json")
    assert trials.returncode == 0, trials.stderr
    assert sorted(r["trial"] for r in json.loads(trials.stdout)) == [0, 1, 2, 3]
    assert snapshot(hwnas_db.parent) == before and tables(hwnas_db) == optuna_tables


def test_in_process_readers_never_write(hwnas_db: Path, tmp_path: Path) -> None:
    """The library paths behind the commands: queries, the dashboard's store, and a journal copy."""
    url = f"sqlite:///{hwnas_db}"
    journal = f"journal:///{tmp_path / 'copy.log'}"
    optuna.copy_study(from_study_name="tiny-ro", from_storage=open_storage(url), to_storage=open_storage(journal))
    before, journal_before = snapshot(hwnas_db.parent), snapshot(tmp_path)
    for storage_url in (url, journal):
        assert [s.name for s in list_experiments(open_storage(storage_url, read_only=True))] == ["tiny-ro"]
        assert len(all_rows(storage_url, "tiny-ro")) == 4 and front_rows(storage_url, "tiny-ro")
        assert len(TrialStore(storage_url).experiment("tiny-ro").rows) == 4
    assert snapshot(hwnas_db.parent) == before and snapshot(tmp_path) == journal_before


def test_a_read_only_storage_cannot_write(hwnas_db: Path) -> None:
    """The SQLite connection itself is read-only: even Optuna's own writes fail, and nothing changes."""
    before = snapshot(hwnas_db.parent)
    storage = open_storage(f"sqlite:///{hwnas_db}", read_only=True)
    with pytest.raises(optuna.exceptions.StorageInternalError) as info:
        optuna.create_study(study_name="sneaky", storage=storage)
    assert "readonly database" in str(info.value.__cause__)
    assert snapshot(hwnas_db.parent) == before


@pytest.mark.parametrize("content, reason", [
    (b"", "no Optuna tables"),  # sqlite3 treats an empty file as an empty database
    (b"hello, not a database at all" * 10, "file is not a database"),
])
def test_odd_files_are_refused_in_one_line(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "odd.db"
    path.write_bytes(content)
    with pytest.raises(StorageError, match=reason) as info:
        open_storage(f"sqlite:///{path}", read_only=True)
    assert "\n" not in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == content and [p.name for p in tmp_path.iterdir()] == ["odd.db"]


def test_a_folder_is_not_a_storage(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StorageError, match="is not a file"):
        open_storage(f"sqlite:///{tmp_path / 'dir.db'}", read_only=True)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to run hwnas as an unprivileged user (root writes any file)")
def test_a_search_on_a_read_only_file_says_so_in_one_line():
    """A storage the user cannot write (today: 417 lines ending in "invalid data in the commit")."""
    folder = Path(tempfile.mkdtemp(prefix="hwnas-ro-", dir="/tmp"))
    try:
        (folder / "spec.yaml").write_text(SPEC)
        made = hwnas("run", folder / "spec.yaml", "--storage", f"sqlite:///{folder}/s.db")
        assert made.returncode == 0, made.stderr
        for path in (folder, folder / "spec.yaml", folder / "s.db"):
            path.chmod(0o755 if path.is_dir() else 0o644)  # readable by everyone, writable by root only
        before = (folder / "s.db").read_bytes()
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "hwnas"]
        out = subprocess.run([*nobody, "run", str(folder / "spec.yaml"), "--storage", f"sqlite:///{folder}/s.db"],
                             capture_output=True, text=True, timeout=300, cwd=folder)
        assert out.returncode == 2, out.stderr[-2000:]
        assert out.stderr.count("\n") == 1 and "read-only" in out.stderr, out.stderr[-2000:]
        assert (folder / "s.db").read_bytes() == before
    finally:
        shutil.rmtree(folder, ignore_errors=True)
