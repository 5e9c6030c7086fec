"""Dash callbacks: they wire `_views` to the page's components (routing, front, selection, refresh)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from dash import ALL, Dash, Input, Output, Patch, State, ctx, no_update
from dash.exceptions import PreventUpdate

from hwnas.dashboard import _layout, _views
from hwnas.dashboard._data import TrialStore
from hwnas.dashboard._figures import SELECTED_TRACE, selected_trace
from hwnas.errors import HwnasError


def route(store: TrialStore, pathname: str | None, refresh_ms: int = _layout.REFRESH_MS) -> Any:
    path = pathname or "/"
    if path.startswith("/experiment/"):
        name = unquote(path.removeprefix("/experiment/")).strip("/")
        try:
            data = store.experiment(name)
        except HwnasError as exc:
            return _layout.message_page("Unknown experiment", str(exc))
        return _layout.experiment_page(data, refresh_ms)
    if path in ("/", ""):
        return _layout.experiments_page(store.summaries(), refresh_ms)
    return _layout.message_page("Not found", f"no page at {path!r}")


def register(app: Dash, store: TrialStore, refresh_ms: int = _layout.REFRESH_MS) -> None:
    app.callback(Output("page", "children"), Input("url", "pathname"))(lambda pathname: route(store, pathname, refresh_ms))

    @app.callback(Output("experiments-table", "children"), Input("list-refresh", "n_intervals"), prevent_initial_call=True)
    def refresh_list(_: int) -> Any:
        return _layout.experiments_table(store.summaries())

    @app.callback(Output("data-version", "data"), Output("summary-line", "children"), Input("refresh", "n_intervals"),
                  State("experiment-name", "data"), State("data-version", "data"), prevent_initial_call=True)
    def poll(_: int, name: str, version: str) -> Any:
        data = store.experiment(name)
        if data.version == version:
            raise PreventUpdate
        return data.version, _layout.summary_chips(data)

    @app.callback(
        Output("scatter", "figure"), Output("front-table", "data"), Output("front-table", "columns"), Output("front-title", "children"),
        Output("where-text", "children"), Output("cli-text", "children"), Output("front-numbers", "data"),
        Input("x-metric", "value"), Input("y-metric", "value"), Input("colour-metric", "value"), Input("front-over", "value"),
        Input({"type": "bound", "key": ALL}, "value"), Input("data-version", "data"),
        State({"type": "bound", "key": ALL}, "id"), State("experiment-name", "data"), State("selected-trial", "data"))
    def update_front(x: str | None, y: str | None, colour: str | None, over: str, bounds: list, _version: str,
                     bound_ids: list[dict], name: str, selected: int | None) -> Any:
        view = _views.front_view(store.experiment(name), x, y, colour, over, {i["key"]: b for i, b in zip(bound_ids, bounds)}, selected)
        return view.figure, view.table_rows, view.table_columns, view.title, view.where_text, view.cli, view.numbers

    @app.callback(Output("scatter", "figure", allow_duplicate=True), Input("selected-trial", "data"),
                  State("x-metric", "value"), State("y-metric", "value"), State("colour-metric", "value"),
                  State("experiment-name", "data"), prevent_initial_call=True)
    def mark_selected(selected: int | None, x: str, y: str, colour: str | None, name: str) -> Any:
        if selected is None or not x or not y:  # it fires when the page is inserted too, before the figure exists
            raise PreventUpdate
        patch = Patch()  # only the star moves: the 10,000 other points stay in the browser
        patch["data"][SELECTED_TRACE] = selected_trace(store.experiment(name), x, y, colour, selected).to_plotly_json()
        return patch

    # The hypervolume and device plots are below the fold: they wait until the browser has drawn the scatter
    # (two animation frames after the front arrives) instead of competing with it for the one JS thread.
    app.clientside_callback(
        """function(numbers) {
            return new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => resolve(numbers), 30))));
        }""",
        Output("front-drawn", "data"), Input("front-numbers", "data"))

    hv_figures: dict[tuple[str, str], Any] = {}

    @app.callback(Output("hv-graph", "figure"), Input("front-drawn", "data"), State("experiment-name", "data"))
    def update_hypervolume(_front: list[int], name: str) -> Any:
        data = store.experiment(name)
        key = (name, data.version)
        if key not in hv_figures:
            if len(hv_figures) > 32:
                hv_figures.clear()
            hv_figures[key] = _views.hypervolume_view(data)
        return hv_figures[key]

    @app.callback(Output({"type": "trial-source", "name": "devices"}, "figure"), Input("device-a", "value"),
                  Input("device-b", "value"), Input("front-drawn", "data"), State("experiment-name", "data"))
    def update_devices(a: str | None, b: str | None, front_numbers: list[int], name: str) -> Any:
        return _views.devices_view(store.experiment(name), a, b, front_numbers or [])

    @app.callback(Output("selected-trial", "data"), Input("scatter", "clickData"), Input("front-table", "active_cell"),
                  Input({"type": "trial-source", "name": ALL}, "clickData"), prevent_initial_call=True)
    def select(click: dict | None, cell: dict | None, _others: list) -> Any:
        if ctx.triggered_id == "front-table":
            return cell.get("row_id") if cell else no_update
        number = _views.clicked_trial(click if ctx.triggered_id == "scatter" else ctx.triggered[0]["value"])
        return no_update if number is None else number

    @app.callback(Output("details", "children"), Input("selected-trial", "data"), State("experiment-name", "data"))
    def show_details(number: int | None, name: str) -> Any:
        if number is None:
            raise PreventUpdate
        return _views.details_view(store.experiment(name), int(number))
