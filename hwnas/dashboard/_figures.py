"""Plotly figures of the dashboard; pure functions of trial data, so they are tested without a browser."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.stats import kendalltau

from hwnas.dashboard._arch import TrialDetails
from hwnas.dashboard._data import ExperimentData
from hwnas.dashboard._labels import fmt, metric_label

FRONT, SELECTED, INFEASIBLE, OUTSIDE = "#d62728", "#111111", "#9e9e9e", "#d9d9d9"
FEASIBLE_ONE_COLOUR = "#1f77b4"
KIND_COLOURS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d"]
FONT = "Inter, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    """House style: title top left, legend in one row under it, white background."""
    fig.update_layout(template="plotly_white", title={"text": title, "x": 0.01, "xref": "container", "y": 0.985, "yanchor": "top",
                                                      "font": {"size": 15}},
                      height=height, font={"family": FONT, "size": 13}, margin={"l": 70, "r": 20, "t": 78, "b": 56},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "xanchor": "left", "x": 0.0, "font": {"size": 12}},
                      uirevision="keep")  # zoom and legend choices survive refreshes
    return fig


def empty_figure(message: str, height: int = 360) -> go.Figure:
    fig = _layout(go.Figure(), "", height)
    fig.add_annotation(text=message, showarrow=False, font={"size": 14, "color": "#666"}, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def scatter_figure(data: ExperimentData, x: str, y: str, colour: str | None, shown: np.ndarray, front_numbers: Sequence[int],
                   staircase: bool, selected: int | None = None, webgl: bool = False) -> dict[str, Any]:
    """Trials in the (x, y) plane: feasible ones coloured by `colour`, infeasible ones grey, those outside
    the filter faint, the front on top (with its staircase when it is the front of exactly x and y).

    Every point carries its trial number in `customdata` (what a click reports). For the bulk traces it is
    set on the returned dict, past plotly's per-element validation (0.5 s for 10,000 points), and as a plain
    list: dcc.Graph reports `customdata[pointNumber]`, which a base64 typed array does not have."""
    trace = go.Scattergl if webgl else go.Scatter
    xs, ys = data.columns[x], data.columns[y]
    plotted = np.isfinite(xs) & np.isfinite(ys)
    cs = data.columns[colour] if colour else np.full(len(xs), np.nan)
    numbers = data.numbers.astype(np.int32)
    xs32, ys32, cs32 = xs.astype(np.float32), ys.astype(np.float32), cs.astype(np.float32)  # half the bytes; 7 digits
    x_label, y_label = metric_label(x, data.direction(x)), metric_label(y, data.direction(y))
    axes_hover = f"<br>{x_label}: %{{x:.4g}}<br>{y_label}: %{{y:.4g}}"
    hardware = data.hardware_labels if data.has_hardware else None  # co-design: the trial's hardware in the hover
    hw_hover = "<br>%{text}" if hardware is not None else ""
    axes_hover += hw_hover
    hover = "<b>trial %{customdata}</b>" + axes_hover + "<extra>%{fullData.name}</extra>"
    fig = go.Figure()

    bulk_numbers: list[np.ndarray] = []

    def add(mask: np.ndarray, name: str, marker: dict, template: str = hover) -> None:
        text = hardware[mask].tolist() if hardware is not None else None
        fig.add_trace(trace(x=xs32[mask], y=ys32[mask], mode="markers", name=name, marker=marker, hovertemplate=template,
                            text=text))
        bulk_numbers.append(numbers[mask])

    add(plotted & ~shown, "outside filter", {"color": OUTSIDE, "size": 5, "opacity": 0.5})
    add(plotted & shown & ~data.feasible, "infeasible", {"color": INFEASIBLE, "size": 6, "opacity": 0.6})
    feasible = plotted & shown & data.feasible
    if colour:
        colour_bar = {"title": {"text": metric_label(colour, data.direction(colour)), "side": "right"}, "thickness": 14}
        add(feasible, "feasible", {"color": cs32[feasible], "colorscale": "Viridis", "size": 7, "opacity": 0.85, "showscale": True,
                                   "colorbar": colour_bar},
            hover.replace("<extra>", f"<br>{metric_label(colour)}: %{{marker.color:.4g}}<extra>"))
    else:
        add(feasible, "feasible", {"color": FEASIBLE_ONE_COLOUR, "size": 7, "opacity": 0.8})
    pair_hover = ("<b>trial %{customdata[0]}</b>" + axes_hover + (f"<br>{metric_label(colour)}: %{{customdata[1]:.4g}}" if colour else "")
                  + "<extra>%{fullData.name}</extra>")
    in_front = np.isin(data.numbers, np.asarray(front_numbers, dtype=int)) & plotted
    order = np.argsort(xs[in_front] * (1 if data.direction(x) == "minimize" else -1), kind="stable")
    idx = np.flatnonzero(in_front)[order]  # best x first: then a "hv" line is the front's attainment staircase
    fig.add_trace(go.Scatter(x=xs[idx], y=ys[idx], customdata=[[int(numbers[i]), _num(cs[i])] for i in idx],
                             text=hardware[idx].tolist() if hardware is not None else None,
                             name=f"Pareto front ({len(idx)})", mode="lines+markers" if staircase else "markers",
                             line={"color": FRONT, "width": 2, "shape": "hv"}, hovertemplate=pair_hover,
                             marker={"color": FRONT, "size": 11, "symbol": "diamond", "line": {"color": "white", "width": 1}}))
    fig.add_trace(selected_trace(data, x, y, colour, selected))
    _layout(fig, f"{metric_label(y)} vs {metric_label(x)}", 520)
    fig.update_layout(clickmode="event", hovermode="closest", legend={"itemsizing": "constant"})
    fig.update_xaxes(title=x_label, zeroline=False)
    fig.update_yaxes(title=y_label, zeroline=False)
    return with_numbers(fig, bulk_numbers)


def with_numbers(fig: go.Figure, numbers: Sequence[np.ndarray]) -> dict[str, Any]:
    """The figure as a dict, its first traces given `numbers` as plain-list customdata (see `scatter_figure`)."""
    figure = fig.to_plotly_json()
    for trace, values in zip(figure["data"], numbers):
        trace["customdata"] = values.tolist()
    return figure


def _num(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


#: Index of the selected-trial trace in `scatter_figure`, which a click replaces alone (a Dash Patch).
SELECTED_TRACE = 4


def selected_trace(data: ExperimentData, x: str, y: str, colour: str | None, selected: int | None) -> go.Scatter:
    row = None if selected is None else data.row(selected)
    if row is None or x not in row.metrics or y not in row.metrics:
        return go.Scatter(x=[], y=[], mode="markers", name="selected", showlegend=False, hoverinfo="skip")
    hover = (f"<b>trial %{{customdata[0]}}</b> (selected)<br>{metric_label(x)}: %{{x:.4g}}<br>{metric_label(y)}: %{{y:.4g}}"
             + (f"<br>{metric_label(colour)}: %{{customdata[1]:.4g}}" if colour else "") + "<extra></extra>")
    return go.Scatter(x=[row.metrics[x]], y=[row.metrics[y]], customdata=[[selected, row.metrics.get(colour or "")]],
                      mode="markers", name=f"trial {selected}", hovertemplate=hover,
                      marker={"symbol": "star", "size": 22, "color": "#ffd400", "line": {"color": SELECTED, "width": 1.5}})


def hypervolume_figure(numbers: np.ndarray, values: np.ndarray, objectives: Sequence[str]) -> go.Figure:
    if not len(numbers):
        return empty_figure("no feasible trial with every objective yet", 400)
    fig = go.Figure(go.Scatter(x=numbers, y=values, mode="lines", line={"color": "#4c78a8", "width": 2.5, "shape": "hv"},
                               fill="tozeroy", fillcolor="rgba(76,120,168,0.12)",
                               hovertemplate="after trial %{x}: %{y:.4g}<extra></extra>"))
    _layout(fig, "Hypervolume as trials finish", 400)
    fig.update_xaxes(title="trial number")
    fig.update_yaxes(title=f"hypervolume ({len(objectives)} objectives)", rangemode="tozero")
    return fig


def devices_figure(data: ExperimentData, a: str, b: str, front_numbers: Sequence[int], webgl: bool = False) -> dict[str, Any] | go.Figure:
    """Latency on device A against device B, with y = x and Kendall's τ (does a ranking carry over?)."""
    xs, ys = data.columns[a], data.columns[b]
    both = np.isfinite(xs) & np.isfinite(ys)
    if both.sum() < 2:
        return empty_figure(f"fewer than two trials have both {a} and {b}", 400)
    tau = float(kendalltau(xs[both], ys[both]).statistic)
    numbers = data.numbers
    hover = f"<b>trial %{{customdata}}</b><br>{metric_label(a)}: %{{x:.4g}}<br>{metric_label(b)}: %{{y:.4g}}<extra></extra>"
    fig = go.Figure()
    in_front = np.isin(numbers, np.asarray(front_numbers, dtype=int)) & both
    masks = [(both & ~data.feasible, "infeasible", {"color": INFEASIBLE, "size": 6, "opacity": 0.6}),
             (both & data.feasible, "feasible", {"color": FEASIBLE_ONE_COLOUR, "size": 6, "opacity": 0.6}),
             (in_front, "Pareto front", {"color": FRONT, "size": 10, "symbol": "diamond", "line": {"color": "white", "width": 1}})]
    for i, (mask, name, marker) in enumerate(masks):
        fig.add_trace((go.Scattergl if webgl and i < 2 else go.Scatter)(x=xs[mask].astype(np.float32), y=ys[mask].astype(np.float32), mode="markers", name=name,
                                 marker=marker, hovertemplate=hover))
    low, high = float(min(xs[both].min(), ys[both].min())), float(max(xs[both].max(), ys[both].max()))
    fig.add_trace(go.Scatter(x=[low, high], y=[low, high], mode="lines", name="same latency", hoverinfo="skip",
                             line={"color": "#888", "dash": "dash", "width": 1}))
    _layout(fig, f"{a.partition('@')[2]} vs {b.partition('@')[2]}: Kendall τ = {tau:.3f} over {int(both.sum()):,} trials", 400)
    fig.update_xaxes(title=metric_label(a))
    fig.update_yaxes(title=metric_label(b))
    return with_numbers(fig, [numbers[m] for m, _, _ in masks])


def arch_figure(details: TrialDetails) -> go.Figure:
    """One bar chart per numeric per-layer choice (rows share the layer axis of their stack); bars are
    coloured by the stack's first categorical choice (e.g. the attention kind), named in the legend."""
    numeric = [s for s in details.layers if s.numeric]
    if not numeric:
        return empty_figure("this arch has no per-layer numeric choices", 200)
    kinds = {s.stack: s for s in details.layers if not s.numeric}
    palette: dict[str, str] = {}
    fig = make_subplots(rows=len(numeric), cols=1, vertical_spacing=min(0.3, 0.5 / len(numeric)),
                        subplot_titles=[f"<b>{s.name}</b>" + ("" if s.stack == "layers" else f" · {s.stack}") for s in numeric])
    shown_kinds: set[str] = set()
    for i, series in enumerate(numeric, start=1):
        layer = list(range(len(series.values)))
        kind = kinds.get(series.stack)
        labels = [str(k) for k in kind.values] if kind and len(kind.values) == len(layer) else None
        if labels:
            for label in dict.fromkeys(labels):
                colour = palette.setdefault(label, KIND_COLOURS[len(palette) % len(KIND_COLOURS)])
                idx = [j for j, lab in enumerate(labels) if lab == label]
                fig.add_trace(go.Bar(x=[layer[j] for j in idx], y=[series.values[j] for j in idx], name=f"{kind.name}: {label}",
                                     width=0.75, marker_color=colour, legendgroup=label, showlegend=label not in shown_kinds,
                                     hovertemplate=f"layer %{{x}}<br>{series.name}: %{{y}}<br>{kind.name}: {label}<extra></extra>"),
                              row=i, col=1)
                shown_kinds.add(label)
        else:
            fig.add_trace(go.Bar(x=layer, y=series.values, marker_color=KIND_COLOURS[0], showlegend=False, width=0.75,
                                 hovertemplate=f"layer %{{x}}<br>{series.name}: %{{y}}<extra></extra>"), row=i, col=1)
        fig.update_xaxes(dtick=1, range=[-0.6, len(layer) - 0.4], row=i, col=1, title="layer" if i == len(numeric) else None)
        top_value = max([abs(v) for v in series.values] + [1])
        integer = all(float(v).is_integer() for v in series.values)
        fig.update_yaxes(rangemode="tozero", row=i, col=1, **({"dtick": max(1, math.ceil(top_value / 4))} if integer else {"nticks": 4}))
    height, top, bottom = 110 + 140 * len(numeric), 30, 90
    _layout(fig, "", height)
    fig.update_layout(barmode="overlay", bargap=0.25, margin={"l": 50, "r": 10, "t": top, "b": bottom},
                      legend={"orientation": "h", "y": -62 / (height - top - bottom), "yanchor": "top", "x": 0.0, "xanchor": "left"})
    fig.update_annotations(font={"size": 12}, xanchor="left", x=0.0)  # subplot titles, left-aligned above each row
    return fig


def fmt_validation(validation: dict[str, float]) -> str:
    parts = []
    if "mape" in validation:
        parts.append(f"MAPE {100 * validation['mape']:.1f}%")
    if "acc10" in validation:
        parts.append(f"{100 * validation['acc10']:.0f}% within ±10%")
    if "kendall_tau" in validation:
        parts.append(f"Kendall τ {validation['kendall_tau']:.3f}")
    if "rmse_ms" in validation:
        parts.append(f"RMSE {fmt(validation['rmse_ms'], 3)} ms")
    if "n" in validation:
        parts.append(f"n = {int(validation['n']):,} held out")
    return ", ".join(parts)
