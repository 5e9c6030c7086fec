"""A live dashboard on a free localhost port and a headless Chromium to drive it: shared by the browser
tests and the load benchmark. Needs selenium and Debian's `chromium` and `chromium-driver`."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

#: The flags every run uses: no network beyond localhost, no first-run or background work, a fresh profile.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-unsafe-swiftshader",  # software WebGL for the 10,000-point plots (no GPU here)
                  "--window-size=1600,1250")

#: Run in every page before its own scripts: records when the scatter first shows its Pareto front.
PAINT_PROBE = """
(() => {
  const drawn = () => {
    const g = document.querySelector('#scatter .js-plotly-plot');
    if (!g) return false;
    const t = Array.from(g.querySelectorAll('.scatterlayer .trace')).find(
      el => el.__data__ && el.__data__[0] && String(el.__data__[0].trace.name || '').startsWith('Pareto front'));
    return !!(t && t.querySelector('path.point'));
  };
  const tick = () => { if (drawn()) { window.__hwnasFirstPaint = performance.now(); } else { requestAnimationFrame(tick); } };
  requestAnimationFrame(tick);
})();
"""

#: The Pareto front's point elements of the scatter (an empty list until it is drawn).
FRONT_POINTS = """
const g = document.querySelector('#scatter .js-plotly-plot');
if (!g) return [];
const t = Array.from(g.querySelectorAll('.scatterlayer .trace')).find(
  el => el.__data__ && el.__data__[0] && String(el.__data__[0].trace.name || '').startsWith('Pareto front'));
return t ? Array.from(t.querySelectorAll('path.point')) : [];
"""


def chromium_paths() -> tuple[str, str] | None:
    """(chromium, chromedriver) if both are installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def live_server(flask_app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `flask_app` on `port` (0: a free one) of `host` in a thread; yields its base URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="hwnas-dashboard-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def chromium(paint_probe: bool = True) -> Iterator[Any]:
    """A headless Chromium (selenium WebDriver) with a fresh profile, its console log kept."""
    from selenium import webdriver  # test tooling: only the browser check drives Chromium
    from selenium.webdriver.chrome.service import Service

    paths = chromium_paths()
    if paths is None:
        raise RuntimeError("chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="hwnas-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(paths[1]), options=options)
    try:
        driver.set_window_size(1600, 1250)
        if paint_probe:
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PAINT_PROBE})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def first_paint_ms(driver: Any, url: str, timeout_s: float = 60.0) -> float:
    """Open `url` (an experiment page) and return when its front was first drawn, in ms after navigation."""
    from selenium.webdriver.support.ui import WebDriverWait  # test tooling, as above

    driver.get(url)
    return float(WebDriverWait(driver, timeout_s, poll_frequency=0.05).until(
        lambda d: d.execute_script("return window.__hwnasFirstPaint || null")))
