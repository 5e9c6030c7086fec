"""The JSON API on the dashboard's Flask server: `hwnas experiments`, `trials` and `pareto` over HTTP.

Every user error (unknown experiment or objective, malformed filter, missing or unknown parameter) is
HTTP 400 with `{"error": "..."}` naming the problem; unknown `/api/...` paths are 404 in the same shape.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from hwnas.dashboard._data import TrialStore
from hwnas.errors import ApiError, HwnasError
from hwnas.search.queries import front_rows

PARETO_PARAMS = ("experiment", "objectives", "where")


def _params(allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters, each at most once and each one of `allowed`."""
    unknown = [k for k in request.args if k not in allowed]
    if unknown:
        raise ApiError(f"unknown parameter {unknown[0]!r}; allowed: {', '.join(allowed) or 'none'}")
    repeated = [k for k in request.args if len(request.args.getlist(k)) > 1]
    if repeated:
        raise ApiError(f"parameter {repeated[0]!r} is given more than once")
    return {k: request.args[k] for k in request.args}


def _error(message: str, status: int) -> tuple[Any, int]:
    return jsonify({"error": message}), status


def register_api(server: Flask, store: TrialStore, storage_url: str) -> None:
    api = Blueprint("hwnas_api", __name__, url_prefix="/api")

    @api.get("/experiments")
    def experiments() -> Any:
        """Every experiment: `hwnas experiments --json`'s rows plus `hypervolume`."""
        _params(())
        return jsonify(store.summaries())

    @api.get("/experiments/<path:name>/trials")
    def trials(name: str) -> Any:
        """Every finished trial: `hwnas trials --format json`'s rows (read from the dashboard's cache)."""
        _params(())
        return jsonify([row.to_dict(name, storage_url) for row in store.experiment(name).rows_with_archs()])

    @api.get("/pareto")
    def pareto() -> Any:
        """`hwnas pareto --format json`: the same function answers both."""
        params = _params(PARETO_PARAMS)
        experiment = params.get("experiment", "").strip()
        if not experiment:
            raise ApiError("missing parameter 'experiment' (e.g. /api/pareto?experiment=quickstart&objectives=naswot,flops_m"
                           "&where=params_m<=0.05)")
        return jsonify(front_rows(storage_url, experiment, params.get("objectives"), params.get("where")))

    @api.get("/<path:rest>")
    def unknown(rest: str) -> Any:
        return _error(f"no API endpoint /api/{rest}; endpoints: /api/experiments, /api/experiments/<name>/trials, "
                      "/api/pareto?experiment=&objectives=&where=", 404)

    @api.errorhandler(HwnasError)
    def user_error(exc: HwnasError) -> Any:
        return _error(str(exc), 400)

    server.json.sort_keys = False  # rows keep `hwnas pareto --format json`'s key order
    server.register_blueprint(api)

    @server.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        """JSON for HTTP errors under /api (e.g. 405 for a POST); Flask's own pages elsewhere."""
        if request.path.startswith("/api/") or request.path == "/api":
            return _error(f"{exc.name}: {exc.description}", exc.code or 400)
        return exc
