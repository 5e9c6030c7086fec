"""Page layouts: the shell, the experiments list and one experiment's page (ids are what callbacks and
the browser test address)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from dash import dash_table, dcc, html

from hwnas.dashboard._analysis import metric_range
from hwnas.dashboard._data import ExperimentData
from hwnas.dashboard._labels import fmt, metric_label

REFRESH_MS = 5000


def shell(storage_label: str) -> html.Div:
    return html.Div([
        dcc.Location(id="url"),
        html.Header([
            dcc.Link([html.Span("hwnas", className="brand"), html.Span("Pareto dashboard", className="brand-sub")], href="/",
                     className="brand-link"),
            html.Span(storage_label, className="storage", title="storage"),
        ], className="topbar"),
        html.Main(id="page", className="page"),
    ])


def experiment_href(name: str) -> str:
    return f"/experiment/{quote(name, safe='')}"


def experiments_table(summaries: list[dict[str, Any]]) -> Any:
    header = ["experiment", "space", "preset", "searcher", "objectives", "trials", "feasible", "hypervolume", "last update"]
    numeric = {"trials", "feasible", "hypervolume"}
    rows = [html.Tr([
        html.Td(dcc.Link(s["name"], href=experiment_href(s["name"]), className="experiment-link")),
        html.Td(s["space"]), html.Td(s["preset"]), html.Td(s["searcher"]),
        html.Td(", ".join(s["objectives"]), className="objectives"),
        html.Td(f"{s['trials_done']:,}", className="num"), html.Td(f"{s['trials_feasible']:,}", className="num"),
        html.Td(fmt(s["hypervolume"]), className="num"), html.Td(s["last_update"] or "–"),
    ]) for s in summaries]
    if not rows:
        return html.P("This storage holds no experiments yet. Start one with `hwnas run SPEC --storage …`.", className="muted")
    return html.Table([html.Thead(html.Tr([html.Th(h, className="num" if h in numeric else None) for h in header])),
                       html.Tbody(rows)], className="list-table")


def experiments_page(summaries: list[dict[str, Any]], refresh_ms: int = REFRESH_MS) -> html.Div:
    return html.Div([
        html.H1("Experiments"),
        html.P("Hypervolume is over all of an experiment's objectives, with a reference point just beyond the worst value "
               "seen, so it compares progress within an experiment, not across experiments.", className="muted"),
        html.Div(experiments_table(summaries), className="card", id="experiments-table"),
        dcc.Interval(id="list-refresh", interval=refresh_ms),
    ])


def message_page(title: str, text: str) -> html.Div:
    return html.Div([html.H1(title), html.P(text, className="error-text"), dcc.Link("← all experiments", href="/")])


def _dropdown(id_: str, options: list[str], value: str | None, data: ExperimentData | None, clearable: bool = False) -> dcc.Dropdown:
    """Metrics by their labels; with `data`, those that are not objectives say so."""
    def label(key: str) -> str:
        return metric_label(key) + ("  ·  not an objective" if data is not None and key not in data.objective_keys else "")

    return dcc.Dropdown(id=id_, options=[{"label": label(k), "value": k} for k in options], value=value, clearable=clearable,
                        className="dropdown")


def nice_range(low: float, high: float) -> tuple[float, float, float]:
    """(low, high, step) widened to round numbers with about 100-1000 steps, so slider values read well."""
    digits = 2 - math.floor(math.log10(high - low))
    scale = 10.0 ** digits
    return round(math.floor(low * scale) / scale, digits), round(math.ceil(high * scale) / scale, digits), round(1 / scale, digits)


def _slider(data: ExperimentData, key: str) -> html.Div | None:
    span = metric_range(data, key)
    if span is None or not span[1] > span[0]:
        return None
    low, high, step = nice_range(*span)
    return html.Div([
        html.Label(metric_label(key), className="slider-label"),
        dcc.RangeSlider(id={"type": "bound", "key": key}, min=low, max=high, step=step, value=[low, high],
                        marks={low: fmt(low, 3), high: fmt(high, 3)}, allowCross=False, updatemode="mouseup",
                        tooltip={"placement": "bottom", "always_visible": False}),
    ], className="slider")


def default_axes(data: ExperimentData) -> tuple[str | None, str | None, str | None]:
    """x, y and colour when a page opens: the second objective against the first, coloured by the third."""
    keys, objectives = data.metric_keys, data.objective_keys
    x = objectives[1] if len(objectives) > 1 else (keys[0] if keys else None)
    y = objectives[0] if objectives else (keys[1] if len(keys) > 1 else x)
    return x, y, objectives[2] if len(objectives) > 2 else None


def experiment_page(data: ExperimentData, refresh_ms: int = REFRESH_MS) -> html.Div:
    """The page's frame and controls; its plots and table are filled in by callbacks. (Sending the scatter
    inside the page is slower: the renderer walks the whole layout it receives.)"""
    keys = data.metric_keys
    objectives = data.objective_keys
    x, y, colour = default_axes(data)
    constrained = [c.get("key") for c in data.spec.get("constraints", [])]
    slider_keys = list(dict.fromkeys([k for k in constrained if k in keys] + objectives + keys))
    sliders = [s for s in (_slider(data, k) for k in slider_keys) if s is not None]
    latencies = data.latency_keys
    summary = data.summary()
    space = f"{summary['space']}/{summary['preset']}" if summary["preset"] else summary["space"]
    controls = html.Div([
        html.H3("Axes"),
        html.Label("x axis"), _dropdown("x-metric", keys, x, data),
        html.Label("y axis"), _dropdown("y-metric", keys, y, data),
        html.Label("colour"), _dropdown("colour-metric", keys, colour, data, clearable=True),
        html.Label("Pareto front over"),
        dcc.RadioItems(id="front-over", options=[{"label": "the two axes", "value": "axes"},
                                                 {"label": f"all {len(objectives)} objectives", "value": "all"}],
                       value="axes", className="radio"),
        html.H3("Filters (live)"),
        html.P(["Constraints: ", html.Code(" and ".join(data.constraints) or "none")], className="muted small"),
        *sliders,
        html.Div(id="where-text", className="small"),
    ], className="card controls")
    details = html.Div([
        html.H3("Selected trial"),
        html.Div(html.P("Click a point (or a row of the front table) to see its architecture and the command that extracts it.",
                        className="muted"), id="details"),
    ], className="card details")
    device_block: list[Any] = []
    if len(latencies) >= 2:
        device_block = [html.Div([
            html.Div([html.Label("device A"), _dropdown("device-a", latencies, latencies[0], None)], className="inline"),
            html.Div([html.Label("device B"), _dropdown("device-b", latencies, latencies[1], None)], className="inline"),
            dcc.Graph(id={"type": "trial-source", "name": "devices"}, config={"displaylogo": False}),
        ], className="card")]
    return html.Div([
        dcc.Store(id="experiment-name", data=data.name),
        dcc.Store(id="data-version", data=data.version),
        dcc.Store(id="selected-trial", data=None),
        dcc.Store(id="front-numbers", data=[]),
        dcc.Store(id="front-drawn", data=[]),
        dcc.Interval(id="refresh", interval=refresh_ms),
        html.Div([
            html.Div([dcc.Link("← experiments", href="/", className="back"), html.H1(data.name)]),
            html.Div(id="summary-line", className="chips", children=summary_chips(data, space)),
        ], className="title-row"),
        html.Div([
            controls,
            html.Div([dcc.Graph(id="scatter", config={"displaylogo": False, "toImageButtonOptions": {"filename": data.name}}),
                      html.Div(id="cli-text", className="small cli")], className="card plot"),
            details,
        ], className="grid"),
        html.Div([html.H3(id="front-title", children="Pareto front"),
                  dash_table.DataTable(id="front-table", sort_action="native", page_size=12, style_as_list_view=True,
                                       style_table={"overflowX": "auto"},
                                       style_header={"fontWeight": "600", "backgroundColor": "#f4f6f9", "border": "none"},
                                       style_cell={"fontFamily": "inherit", "fontSize": "13px", "padding": "6px 10px", "textAlign": "right"},
                                       style_cell_conditional=[{"if": {"column_id": "arch_id"}, "textAlign": "left",
                                                                "fontFamily": "ui-monospace, monospace"}],
                                       style_data_conditional=[{"if": {"state": "active"}, "backgroundColor": "#fff6cc",
                                                                "border": "1px solid #e0c000"}])],
                 className="card"),
        html.Div([
            html.Div([html.P("Hypervolume of the feasible trials over all objectives, against a reference point just beyond "
                             "the worst value seen per objective: a flat curve means the search has stopped improving.",
                             className="muted small"),
                      dcc.Graph(id="hv-graph", config={"displaylogo": False})], className="card"),
            *device_block,
        ], className="grid-2" if device_block else ""),
    ])


def summary_chips(data: ExperimentData, space: str | None = None) -> list[html.Span]:
    summary = data.summary()
    space = space or (f"{summary['space']}/{summary['preset']}" if summary["preset"] else summary["space"])
    objectives = ", ".join(metric_label(k, d) for k, d in zip(data.objective_keys, data.directions))
    return [html.Span(text, className="chip") for text in (
        space, summary["searcher"], f"{summary['trials_done']:,} trials", f"{summary['trials_feasible']:,} feasible",
        f"HV {fmt(summary['hypervolume'])}", f"updated {summary['last_update'] or '–'}")] + [
        html.Span(f"objectives: {objectives}", className="chip wide")]
