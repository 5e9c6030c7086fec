"""Real servers for the tests that need them: a PostgreSQL cluster and a two-node Ray cluster, in temp dirs.

Both are started here as separate processes, the way they are deployed, and stopped when the test ends.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Debian's `postgresql` package: `initdb` and `pg_ctl` live under /usr/lib/postgresql/<version>/bin.
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_USER, PG_PASSWORD, PG_DATABASE = "hwnas", "hwnas-test-secret", "hwnas"


#: The spoken-digits task synthesises its clips with espeak-ng (Debian's package, installed by .ci/system-packages);
#: without it those tests are skipped, except in CI, where a missing package must fail.
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None and not os.environ.get("CI"),
                                  reason="needs espeak-ng (apt-get install -y espeak-ng)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`, or None when PostgreSQL's server is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    folders = sorted(glob.glob(PG_BIN_GLOB))
    return Path(folders[-1]) if folders and (Path(folders[-1]) / "initdb").exists() else None


def require_postgres() -> Path:
    """PostgreSQL's binaries; skipped when absent on a developer's machine, a failure on CI (which installs them)."""
    folder = postgres_bin()
    if folder is None:
        message = "needs PostgreSQL's server (apt-get install -y postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return folder


def _server_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root: as root, the user it runs as (Debian's `postgres`, else `nobody`)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


def _as_server_user(command: list[str]) -> list[str]:
    user = _server_user()
    return command if user is None else ["runuser", "-u", user.pw_name, "--", *command]


@dataclass(frozen=True)
class PostgresServer:
    port: int
    data: Path

    def url(self, database: str = PG_DATABASE, password: str = PG_PASSWORD) -> str:
        return f"postgresql://{PG_USER}:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A fresh database on this server; its URL."""
        import psycopg  # the driver under test (hwnas[postgres])

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster in a fresh folder under /tmp (initdb, then pg_ctl start on a free loopback port,
    password auth), stopped and removed after. Not under pytest's tmp_path: as root, the server runs as
    another user, who must be able to reach its folder."""
    binaries = require_postgres()
    root = Path(tempfile.mkdtemp(prefix="hwnas-pg-", dir="/tmp"))
    user = _server_user()
    owner = None if user is None else (user.pw_uid, user.pw_gid)
    password_file = root / "password"
    password_file.write_text(PG_PASSWORD + "\n")
    if owner is not None:
        os.chown(root, *owner)
        os.chown(password_file, *owner)
    data, port = root / "data", free_port()
    pg_ctl = [str(binaries / "pg_ctl"), "-D", str(data)]
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    try:
        _run(_as_server_user([str(binaries / "initdb"), "-D", str(data), "-U", PG_USER, f"--pwfile={password_file}",
                              "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"]))
        _run(_as_server_user([*pg_ctl, "-o", options, "-w", "-l", str(root / "server.log"), "start"]))
        server = PostgresServer(port, data)
        server.create_database(PG_DATABASE)
        yield server
    finally:
        subprocess.run(_as_server_user([*pg_ctl, "-m", "immediate", "-w", "stop"]), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")


# -- Ray ---------------------------------------------------------------------------------------------


def ray_command() -> list[str]:
    """The `ray` CLI of this interpreter's environment."""
    found = Path(sys.executable).with_name("ray")
    return [str(found)] if found.exists() else [sys.executable, "-m", "ray.scripts.scripts"]


@dataclass(frozen=True)
class RayCluster:
    address: str
    temp_dir: Path
    env: dict[str, str]  # what a driver of this cluster needs in its environment (the auth token's path)


@contextmanager
def ray_cluster(root: Path, cpus_per_node: int = 1) -> Iterator[RayCluster]:
    """A Ray head and one worker node, each started by `ray start` as its own processes with its own CPU count."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    address = f"127.0.0.1:{port}"
    token = root / "ray-token"  # Ray's token authentication: every node and driver of the cluster shares it
    token.write_text(secrets.token_hex(32) + "\n")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    temp_dir = Path(tempfile.mkdtemp(prefix="hwnas-ray-", dir="/tmp"))  # Ray's socket paths must stay under 107 chars
    common = ["--num-cpus", str(cpus_per_node), "--disable-usage-stats"]
    try:
        subprocess.run([*ray_command(), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                        "--include-dashboard", "false", f"--temp-dir={temp_dir}", *common],
                       check=True, capture_output=True, env=env, timeout=180)
        subprocess.run([*ray_command(), "start", "--address", address, "--node-ip-address", "127.0.0.1", *common],
                       check=True, capture_output=True, env=env, timeout=180)
        _wait_for_nodes(address, 2, env)
        yield RayCluster(address, temp_dir, env)
    finally:
        _stop_processes_under(temp_dir)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _stop_processes_under(temp_dir: Path) -> None:
    """Stop this cluster's processes only (`ray stop` would stop every Ray on the machine): those whose command
    line names its temp dir, and their children (Ray's agents and workers rename themselves)."""
    import psutil  # a dependency of Ray

    roots, me = [], os.getpid()
    for process in psutil.process_iter(["cmdline"]):
        if process.pid != me and any(str(temp_dir) in part for part in process.info["cmdline"] or ()):
            roots.append(process)
    family = {p.pid: p for root in roots for p in [root, *_children(root)]}
    for process in family.values():
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(list(family.values()), timeout=5)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def _children(process):  # noqa: ANN001, ANN202 - psutil objects
    import psutil  # see _stop_processes_under

    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _wait_for_nodes(address: str, count: int, env: dict[str, str], timeout_s: float = 120) -> None:
    script = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
              "print(sum(n['Alive'] for n in ray.nodes()))")
    deadline = time.monotonic() + timeout_s
    while True:
        out = subprocess.run([sys.executable, "-c", script, address], capture_output=True, text=True, env=env, timeout=120)
        alive = int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 and out.stdout.strip() else 0
        if alive >= count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"Ray cluster at {address}: {alive} of {count} nodes alive after {timeout_s:.0f} s\n{out.stderr}")
        time.sleep(1)
