"""The Pareto-frontier dashboard: a Dash app and a JSON API over an experiment storage.

`serve(storage_url)` runs it (`hwnas dashboard`); `create_app(storage_url)` builds it for tests and WSGI
servers (`create_app(url).server` is the Flask app).
"""

from hwnas.dashboard._app import DashboardError, create_app, serve
from hwnas.dashboard._data import ExperimentData, TrialStore
from hwnas.dashboard._synthetic import write_synthetic_experiment

__all__ = ["DashboardError", "ExperimentData", "TrialStore", "create_app", "serve", "write_synthetic_experiment"]
