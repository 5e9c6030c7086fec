"""What each part of the experiment page shows, as plain functions of trial data and control values:
the callbacks only wire them to components, and tests and the load benchmark call them directly."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dash import dcc, html

from hwnas.dashboard._analysis import bounds_where, front, hypervolume_history, where_mask
from hwnas.dashboard._arch import TrialDetails, trial_details
from hwnas.dashboard._data import ExperimentData
from hwnas.dashboard._figures import arch_figure, devices_figure, empty_figure, fmt_validation, hypervolume_figure, scatter_figure
from hwnas.dashboard._labels import fmt, hardware_label, metric_label

#: Above this many trials the scatter plots use WebGL: SVG takes over a second for 10,000 markers.
WEBGL_ABOVE = 2_000


@dataclass(frozen=True)
class FrontView:
    figure: Any
    table_rows: list[dict[str, Any]]
    table_columns: list[dict[str, Any]]
    title: str
    where_text: list[Any]
    cli: list[Any]
    numbers: list[int]


def front_view(data: ExperimentData, x: str | None, y: str | None, colour: str | None, over: str,
               bounds: Mapping[str, Sequence[float] | None], selected: int | None = None) -> FrontView:
    """The scatter, the front table and the filter as text, for the axes, colour and slider bounds chosen."""
    if not x or not y:
        message = "choose metrics for both axes"
        return FrontView(empty_figure(message), [], [], "Pareto front", [], [html.Span(message)], [])
    where = bounds_where(data, bounds)
    keys = [x, y] if over == "axes" else data.objective_keys
    query = front(data, keys, where)
    shown = where_mask(data, where)
    figure = scatter_figure(data, x, y, colour, shown, query.numbers, staircase=query.keys == [x, y],
                            selected=selected, webgl=len(data.rows) > WEBGL_ABOVE)
    rows, columns = front_table(data, query.numbers)
    where_text = [html.Span(f"{int(shown.sum()):,} of {len(data.rows):,} trials pass"),
                  html.Code(f"--where {where!r}", className="where") if where else html.Span(" (no filter)")]
    title = f"Pareto front over {', '.join(metric_label(k) for k in query.keys)}: {len(query.numbers)} trials"
    cli = ([html.Span("Same front on the command line: "), html.Code(query.cli, id="cli-command")] if query.cli else
           [html.Span("A metric that is not an objective is minimised here; `hwnas pareto` fronts objectives only.")])
    return FrontView(figure, rows, columns, title, where_text, cli, query.numbers)


def front_table(data: ExperimentData, numbers: Sequence[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    columns = [{"name": "trial", "id": "trial", "type": "numeric"}] + [
        {"name": metric_label(k, data.direction(k) if k in data.objective_keys else None), "id": k, "type": "numeric",
         "format": {"specifier": ".4~g"}} for k in data.metric_keys] + [{"name": "arch id", "id": "arch_id"}]
    if data.has_hardware:  # co-design: which hardware each front point runs on
        columns.append({"name": "hardware", "id": "hardware"})
    rows = []
    for number in numbers:
        row = data.row(number)
        rows.append({"id": number, "trial": number, "arch_id": row.arch_id, **{k: row.metrics.get(k) for k in data.metric_keys}})
        if data.has_hardware:
            rows[-1]["hardware"] = hardware_label(row.hardware) if row.hardware else ""
    return rows, columns


def hypervolume_view(data: ExperimentData) -> Any:
    numbers, values = hypervolume_history(data)
    return hypervolume_figure(numbers, values, data.objective_keys)


def devices_view(data: ExperimentData, a: str | None, b: str | None, front_numbers: Sequence[int]) -> Any:
    if not a or not b or a == b:
        return empty_figure("choose two different devices", 400)
    return devices_figure(data, a, b, front_numbers, webgl=len(data.rows) > WEBGL_ABOVE)


def clicked_trial(click: Mapping[str, Any] | None) -> int | None:
    """The trial number a plotly click reports in `customdata` (a number, or [number, colour value])."""
    points = (click or {}).get("points") or []
    if not points:
        return None
    custom = points[0].get("customdata")
    value = custom[0] if isinstance(custom, list) and custom else custom
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def details_view(data: ExperimentData, number: int) -> list[Any]:
    row = data.row(number)  # `trial_details` reads its arch
    if row is None:
        return [html.P(f"trial {number} is not a finished trial of {data.name}", className="error-text")]
    return details_panel(trial_details(data, row))


def hardware_panel(hardware: dict[str, Any]) -> list[Any]:
    """The trial's hardware choice (co-design), each field and its id, as `hwnas extract` writes it to hardware.json."""
    facts = [(k, fmt(v) if isinstance(v, float) else str(v)) for k, v in sorted(hardware.items()) if k != "hw_id"]
    facts.append(("hardware id", str(hardware.get("hw_id", "–"))))
    return [html.H4("Hardware"), html.P(hardware_label(hardware), className="small"),
            html.Table([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts], className="facts hardware")]


def details_panel(details: TrialDetails) -> list[Any]:
    counted = "  (counted from ops)" if details.counts_source == "ops" else ""
    facts = [("state", details.state + ("" if details.feasible else " · infeasible")), ("arch id", details.arch_id)]
    if details.params_m is not None:
        facts.append(("params", f"{fmt(details.params_m)} M{counted}"))
    if details.flops_m is not None:
        facts.append(("FLOPs", f"{fmt(details.flops_m)} M{counted}"))
    facts += [(metric_label(k), fmt(v)) for k, v in details.metrics.items()
              if k not in ("params_m", "flops_m") and not k.startswith(("latency_ms@", "latency_unmeasured@"))]
    facts += [(f"surrogate expected {metric_label(k)}", f"{fmt(g.get('mean'))} ± {fmt(g.get('std'))}")
              for k, g in details.surrogate.items() if isinstance(g, dict)]
    latency_rows = []
    for fact in details.latencies:
        how = {"predicted": f"predicted by profile {fact.device}", "measured": "measured"}.get(fact.source, "no shipped profile of that name")
        validation = fmt_validation(fact.validation) if fact.validation else ""
        if fact.unmeasured is not None:
            how += f" · {fact.unmeasured:.0%} of it composed or extrapolated" if fact.unmeasured > 0 else " · every op measured"
        latency_rows.append(html.Tr([html.Td(fact.device), html.Td(f"{fmt(fact.value_ms)} ms", className="num"),
                                     html.Td([how, html.Br() if validation else None, html.Span(validation, className="muted small")])]))
    latency = (html.Table([html.Thead(html.Tr([html.Th("device"), html.Th("latency"), html.Th("source, held-out validation")])),
                           html.Tbody(latency_rows)], className="facts latency")
               if latency_rows else html.P("no latency metric in this trial", className="muted"))
    return [
        html.Div(f"Trial {details.number}", className="trial-title"),
        html.Table([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts], className="facts"),
        *(hardware_panel(details.hardware) if details.hardware else []),
        html.H4("Latency"), latency,
        html.H4("Extract this subnet"),
        html.Div([html.Pre(details.extract, id="extract-command", className="command"),
                  dcc.Clipboard(target_id="extract-command", title="copy", className="copy")], className="command-row"),
        html.H4("Architecture"),
        html.P("  ·  ".join(f"{k} {v}" for k, v in details.global_choices.items()), className="small mono"),
        html.P(details.problem, className="error-text small") if details.problem else None,
        dcc.Graph(figure=arch_figure(details), config={"displaylogo": False, "displayModeBar": False}, id="arch-graph"),
    ]
