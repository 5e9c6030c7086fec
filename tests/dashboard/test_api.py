"""The JSON API with the real app (Flask test client)."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import subprocess
import sys

import pytest

from hwnas.dashboard import create_app
from hwnas.errors import StorageError
from hwnas.search import list_experiments, open_storage
from hwnas.search.pareto import MAX_WHERE_CHARS
from hwnas.search.queries import all_rows, front_rows


@pytest.fixture(scope="module")
def client(storage_url: str):
    return create_app(storage_url).server.test_client()


def test_experiments(client, storage_url: str) -> None:
    response = client.get("/api/experiments")
    assert response.status_code == 200 and response.is_json
    rows = {r["name"]: r for r in response.get_json()}
    for summary in list_experiments(open_storage(storage_url)):
        assert {k: rows[summary.name][k] for k in summary.to_dict()} == summary.to_dict()
        assert rows[summary.name]["hypervolume"] > 0


@pytest.mark.parametrize("name", ["synthetic", "real-run"])
def test_trials_are_hwnas_trials(client, storage_url: str, name: str) -> None:
    response = client.get(f"/api/experiments/{name}/trials")
    assert response.status_code == 200
    assert response.get_json() == json.loads(json.dumps(all_rows(storage_url, name)))


@pytest.mark.parametrize("query, objectives, where", [
    ("experiment=synthetic", None, None),
    ("experiment=synthetic&objectives=naswot,params_m", "naswot,params_m", None),
    ("experiment=synthetic&objectives=latency_ms%40pixel4,naswot&where=params_m+%3C%3D+0.05", "latency_ms@pixel4,naswot",
     "params_m <= 0.05"),
    ("experiment=real-run&where=flops_m<1", None, "flops_m<1"),
])
def test_pareto_is_hwnas_pareto(client, storage_url: str, query: str, objectives, where) -> None:
    response = client.get(f"/api/pareto?{query}")
    assert response.status_code == 200
    experiment = query.split("&")[0].split("=")[1]
    expected = front_rows(storage_url, experiment, objectives, where)
    assert expected and response.get_json() == json.loads(json.dumps(expected))
    assert list(response.get_json()[0]) == list(expected[0])  # same key order as `hwnas pareto --format json`


def test_pareto_matches_the_cli_output(client, storage_url: str) -> None:
    cli = subprocess.run([sys.executable, "-m", "hwnas", "pareto", "--experiment", "synthetic", "--storage", storage_url,
                          "--objectives", "naswot,params_m", "--where", "params_m <= 0.06", "--format", "json"],
                         capture_output=True, text=True, check=True)
    response = client.get("/api/pareto", query_string={"experiment": "synthetic", "objectives": "naswot,params_m",
                                                        "where": "params_m <= 0.06"})
    assert response.get_json() == json.loads(cli.stdout)


@pytest.mark.parametrize("url, message", [
    ("/api/pareto", "missing parameter 'experiment'"),
    ("/api/pareto?experiment=", "missing parameter 'experiment'"),
    ("/api/pareto?experiment=nope", "unknown experiment 'nope'; choose one of: real-run, synthetic"),
    ("/api/pareto?experiment=synthetic&objectives=accuracy", "unknown objective 'accuracy'"),
    ("/api/pareto?experiment=synthetic&where=params_m+%3C%3D", "filter clause 'params_m <=' must look like"),
    ("/api/pareto?experiment=synthetic&where=latency%3C1", "filter names unknown metric 'latency'"),
    ("/api/pareto?experiment=synthetic&where=params_m%3C1e", "filter value '1e' is not a number"),
    ("/api/pareto?experiment=synthetic&wher=params_m%3C1", "unknown parameter 'wher'; allowed: experiment, objectives, where"),
    ("/api/pareto?experiment=synthetic&experiment=real-run", "parameter 'experiment' is given more than once"),
    ("/api/experiments/nope/trials", "unknown experiment 'nope'"),
    ("/api/experiments?x=1", "unknown parameter 'x'"),
])
def test_bad_queries_are_400_naming_the_problem(client, url: str, message: str) -> None:
    response = client.get(url)
    assert response.status_code == 400 and response.is_json
    assert message in response.get_json()["error"]


def test_unknown_paths_and_methods_are_json(client) -> None:
    missing = client.get("/api/frontier")
    assert missing.status_code == 404 and "/api/pareto" in missing.get_json()["error"]
    post = client.post("/api/pareto?experiment=synthetic")
    assert post.status_code == 405 and "Method Not Allowed" in post.get_json()["error"]


def test_pages_are_served(client) -> None:
    for path in ("/", "/experiment/synthetic", "/experiment/nope"):
        response = client.get(path)
        assert response.status_code == 200 and b"hwnas dashboard" in response.data


def test_bad_storage_is_a_storage_error(tmp_path) -> None:
    from hwnas.search.storage import StorageError

    with pytest.raises(StorageError, match="does not exist"):
        create_app(f"sqlite:///{tmp_path}/missing/dir/x.db")


def test_serve_binds_localhost_by_default() -> None:
    import inspect

    from hwnas.dashboard import serve

    params = inspect.signature(serve).parameters
    assert params["host"].default == "127.0.0.1" and params["port"].default == 8050


def test_serve_names_a_busy_port(storage_url: str) -> None:
    import socket

    from hwnas.dashboard._app import DashboardError, serve

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(DashboardError, match=f"cannot listen on 127.0.0.1:{port}: .*choose another --port"):
            serve(storage_url, port=port)


@pytest.mark.parametrize("path", [
    "/_dash-component-suites/nope/x.js",  # not a registered library
    "/_dash-component-suites/dash/nope.js",  # a library, not one of its files
    "/_dash-component-suites/dash/../x.js",
    "/_dash-component-suites/plotly/package_data/plotly.v1_0_0m1.min.css",
    "/_dash-component-suites/dash",  # no file at all: not the page either
    "/_dash-component-suites/",
])
def test_unknown_component_files_are_404(client, caplog, path: str) -> None:
    with caplog.at_level(logging.ERROR):
        response = client.get(path)
    assert response.status_code == 404 and b"hwnas dashboard" not in response.data
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback in the log


def test_the_page_component_files_are_served(client) -> None:
    page = client.get("/").get_data(as_text=True)
    scripts = sorted(set(re.findall(r'"(/_dash-component-suites/[^"]+)"', page)))
    assert len(scripts) > 5 and any("plotly" in s for s in scripts)
    for script in scripts:
        response = client.get(script)
        assert response.status_code == 200 and response.data, script
        response.close()


@pytest.mark.parametrize("where", [" " * 65536, "params_m" + " " * 65536 + "<= 1", "x" * 65536 + " <= 1"])
def test_long_filters_are_refused_at_the_cap(client, where: str) -> None:
    """A 64 KB filter (used to cost seconds of CPU per request in blank runs) is refused at once, naming the limit."""
    response = client.get("/api/pareto", query_string={"experiment": "synthetic", "where": where})
    assert response.status_code == 400
    assert response.get_json()["error"] == f"filter is {len(where):,} characters long; the limit is {MAX_WHERE_CHARS:,}"


def test_filters_up_to_the_cap_are_answered(client) -> None:
    where = "params_m" + " " * (MAX_WHERE_CHARS - 40) + "<= 0.05 and naswot >= 0"
    response = client.get("/api/pareto", query_string={"experiment": "synthetic", "where": where})
    assert response.status_code == 200
    assert response.get_json() == client.get("/api/pareto", query_string={
        "experiment": "synthetic", "where": "params_m <= 0.05 and naswot >= 0"}).get_json()


def test_a_foreign_sqlite_file_is_refused_and_untouched(tmp_path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    before = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(StorageError, match="not an hwnas storage \\(no Optuna tables\\)"):
        create_app(f"sqlite:///{path}")
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    with pytest.raises(StorageError, match="not found"):
        create_app(f"sqlite:///{tmp_path / 'typo.db'}")
    assert [p.name for p in tmp_path.iterdir()] == ["other.db"]
