"""The Dash app over one storage, and `serve` behind `hwnas dashboard`."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

from dash import Dash
from dash.exceptions import DependencyException
from flask import Flask, request
from sqlalchemy.engine import make_url
from werkzeug.exceptions import NotFound

from hwnas.dashboard._api import register_api
from hwnas.dashboard._callbacks import register
from hwnas.dashboard._data import TrialStore
from hwnas.dashboard._layout import REFRESH_MS, shell
from hwnas.errors import DashboardError

ASSETS = Path(__file__).resolve().parent / "assets"
#: Where Dash serves its (and Plotly's) scripts; an unknown file there is a 404, not a 500 with a traceback.
SUITES = "/_dash-component-suites/"


def storage_label(url: str) -> str:
    """The storage URL as shown on the page: passwords hidden."""
    if "://" in url and "@" in url and not url.startswith(("sqlite", "journal")):
        try:
            return make_url(url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - an unparsable URL is shown by scheme only
            return url.split("://", 1)[0] + "://…"
    return url


def create_app(storage_url: str, refresh_ms: int = REFRESH_MS) -> Dash:
    """The dashboard and its JSON API (`app.server` is the Flask app); open pages look for new trials
    every `refresh_ms`. Raises `StorageError` if the storage cannot be opened."""
    store = TrialStore(storage_url, min_check_s=min(1.0, refresh_ms / 2000))
    app = Dash(__name__, title="hwnas dashboard", update_title=None, suppress_callback_exceptions=True,
               assets_folder=str(ASSETS), serve_locally=True,
               eager_loading=True)  # one bundle up front: ~0.1 s sooner than fetching chunks after the page arrives
    app.layout = shell(storage_label(storage_url))
    register(app, store, refresh_ms)
    register_api(app.server, store, storage_url)
    _unknown_suites_are_404(app.server)
    app.server.config["HWNAS_STORE"] = store
    return app


def _unknown_suites_are_404(server: Flask) -> None:
    """Dash raises `DependencyException` for a file it does not ship (Flask logs it and answers 500), and
    a path without package and file falls through to the page; both become a plain 404."""

    def not_found() -> NotFound:
        return NotFound(f"no component file {request.path}")

    @server.before_request
    def suite_without_file() -> NotFound | None:
        rule = request.url_rule.rule if request.url_rule is not None else ""
        if request.path.startswith(SUITES) and not rule.startswith(SUITES):
            return not_found()
        return None

    @server.errorhandler(DependencyException)
    def unknown_suite_file(_exc: DependencyException) -> NotFound:
        return not_found()


def warm(app: Dash) -> None:
    """Read every experiment once, so the first page a user opens is served from memory."""
    store: TrialStore = app.server.config["HWNAS_STORE"]
    for name in store.names():
        store.experiment(name)


def serve(storage_url: str, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Run the dashboard until interrupted (localhost unless `host` says otherwise).

    Raises `StorageError` for a storage that cannot be opened, `DashboardError` if `host:port` cannot be bound.
    """
    app = create_app(storage_url)
    try:
        socket.getaddrinfo(host, port)
        with socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET):  # fail here, in one line, rather than in werkzeug's thread
            pass
    except OSError as exc:
        raise DashboardError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port or --host") from None
    threading.Thread(target=warm, args=(app,), daemon=True, name="hwnas-dashboard-warm").start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request (pages poll every few seconds)
    print(f"hwnas dashboard on http://{host}:{port}/  (storage {storage_label(storage_url)}; Ctrl-C stops)")
    app.run(host=host, port=port, debug=False)
