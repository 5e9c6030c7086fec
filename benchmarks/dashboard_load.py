"""First paint of the dashboard's experiment page with 10,000 trials, in headless Chromium.

Goal: the experiment page shows its scatter with the Pareto front drawn within 2 s of navigation, with
10,000 trials in SQLite, on this machine. The storage is synthetic (real archs and params/FLOPs of
mixed-attention/cifar10-vit, made-up proxy and latencies; see hwnas.dashboard._synthetic), written in
bulk in seconds. Measured:

- server: reading the trials cold, and each data callback of the page (front + scatter, hypervolume,
  device-vs-device, layout), median of repeats;
- browser: ms from navigation until the front is drawn (a probe injected before the page's scripts),
  for a cold server and a fresh browser profile (scripts downloaded and compiled, WebGL started), then warm
  loads (what `hwnas dashboard` serves: it reads every experiment at start), then a restarted server
  (trials read on the first request) with a warm browser.

Writes benchmarks/results/dashboard_load.json.

    python benchmarks/dashboard_load.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from hwnas.dashboard import TrialStore, create_app, write_synthetic_experiment
from hwnas.dashboard import _layout, _views
from hwnas.dashboard._browser import chromium, chromium_paths, first_paint_ms, live_server

TARGET_MS = 2000.0


def timed(fn: Any, repeats: int) -> float:
    """Median wall time of `fn()` in ms."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def server_timings(url: str, name: str, repeats: int) -> dict[str, float]:
    start = time.perf_counter()
    store = TrialStore(url)
    data = store.experiment(name)
    cold_read_ms = 1000 * (time.perf_counter() - start)
    objectives = data.objective_keys
    x, y, colour = objectives[1], objectives[0], objectives[2]
    front = _views.front_view(data, x, y, colour, "axes", {}).numbers
    latencies = data.latency_keys
    return {
        "read_trials_cold_ms": cold_read_ms,
        "layout_ms": timed(lambda: _layout.experiment_page(data), repeats),
        "front_and_scatter_ms": timed(lambda: _views.front_view(data, x, y, colour, "axes", {}), repeats),
        "front_all_objectives_ms": timed(lambda: _views.front_view(data, x, y, colour, "all", {}), repeats),
        "hypervolume_history_ms": timed(lambda: _views.hypervolume_view(data), repeats),
        "devices_ms": timed(lambda: _views.devices_view(data, latencies[0], latencies[1], front), repeats),
        "front_size": len(front),
    }


def browser_timings(url: str, name: str, loads: int) -> dict[str, Any]:
    page = f"/experiment/{name}"
    with chromium() as driver:
        with live_server(create_app(url).server) as base:
            cold = first_paint_ms(driver, base + page)
            warm = [first_paint_ms(driver, base + page) for _ in range(loads)]
            driver.get("about:blank")  # no page left polling the server that stops next
        log = driver.get_log("browser")
        port = int(base.rsplit(":", 1)[1])
        with live_server(create_app(url).server, port=port) as base:  # a fresh server, same origin: a warm browser cache
            server_cold = first_paint_ms(driver, base + page)
            driver.get("about:blank")
        severe = [e["message"][:300] for e in log + driver.get_log("browser") if e.get("level") == "SEVERE"]
        version = driver.capabilities.get("browserVersion")
    return {"first_load_cold_server_fresh_browser_ms": cold, "warm_ms": warm, "warm_median_ms": statistics.median(warm),
            "cold_server_warm_browser_ms": server_cold, "console_errors": severe, "chromium": version}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--preset", default="cifar10-vit", help="mixed-attention preset the archs come from")
    parser.add_argument("--storage", default=None, help="an existing storage URL (with --experiment) instead of a synthetic one")
    parser.add_argument("--experiment", default=None)
    parser.add_argument("--loads", type=int, default=5, help="warm page loads to time")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of each server-side timing")
    parser.add_argument("--json", action="store_true", help="write benchmarks/results/dashboard_load.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url, name, generate_s = args.storage, args.experiment, None
        if url is None:
            url = f"sqlite:///{tmp}/dashboard-load.db"
            start = time.perf_counter()
            name = write_synthetic_experiment(url, args.trials, preset=args.preset)
            generate_s = time.perf_counter() - start
            print(f"wrote {args.trials:,} trials in {generate_s:.1f} s")
        server = server_timings(url, name, args.repeats)
        print("server (ms): " + ", ".join(f"{k} {v:.0f}" for k, v in server.items()))
        browser = browser_timings(url, name, args.loads) if chromium_paths() else {"skipped": "chromium not installed"}
        print("browser (ms): " + json.dumps({k: v for k, v in browser.items() if k != "console_errors"}, default=str))

    warm = browser.get("warm_median_ms")
    summary = {
        "benchmark": "dashboard_load", "target_first_paint_ms": TARGET_MS, "n_trials": args.trials if args.storage is None else None,
        "storage": "synthetic sqlite" if args.storage is None else args.storage, "experiment": name,
        "generate_s": generate_s, "server": server, "browser": browser,
        "meets_target_warm": warm is not None and warm < TARGET_MS,
        "machine": {"cpus": os.cpu_count(), "load_average_1m_5m_15m": os.getloadavg(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "command": "python benchmarks/dashboard_load.py --json",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print(f"first paint, warm server (median of {args.loads}): {warm} ms (target {TARGET_MS:.0f} ms)")
    if args.json:
        out = Path(__file__).parent / "results" / "dashboard_load.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2, default=str))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
