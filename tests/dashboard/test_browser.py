"""The real dashboard in headless Chromium: open an experiment from the list, wait for the plot, click
a point of the front, read its extract command, filter with a slider, and watch a running search
add trials. Fails on any SEVERE browser console message; leaves screenshots under artifacts/."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest

from hwnas.dashboard import create_app, write_synthetic_experiment
from hwnas.dashboard._browser import FRONT_POINTS, chromium, chromium_paths, live_server
from hwnas.search.pareto import extract_command
from tests.dashboard.conftest import run_real

pytestmark = pytest.mark.skipif(chromium_paths() is None and not os.environ.get("CI"), reason="needs chromium and chromium-driver (apt-get install -y chromium chromium-driver)")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _api(base: str, path: str):
    with urllib.request.urlopen(base + path, timeout=30) as response:
        return json.loads(response.read())


def test_pick_a_front_trial_and_copy_its_extract_command(fresh_url: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    write_synthetic_experiment(fresh_url, 240, name="synthetic", seed=1)
    run_real(fresh_url, 12)
    ARTIFACTS.mkdir(exist_ok=True)
    console: list[dict] = []
    with live_server(create_app(fresh_url, refresh_ms=1000).server) as base, chromium() as driver:
        wait = WebDriverWait(driver, 30, poll_frequency=0.1)
        try:
            # the list: every experiment, linked
            driver.get(base + "/")
            link = wait.until(lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".experiment-link") if e.text == "synthetic"])[0]
            assert {e.text for e in driver.find_elements(By.CSS_SELECTOR, ".experiment-link")} == {"synthetic", "real-run"}
            link.click()

            # the plot, its front, and the same front from the API
            points = wait.until(lambda d: d.execute_script(FRONT_POINTS))
            front = _api(base, "/api/pareto?experiment=synthetic&objectives=latency_ms%40pixel4,naswot")
            assert len(points) == len(front)
            ActionChains(driver).move_to_element(points[len(points) // 2]).pause(0.4).click().perform()
            command = wait.until(lambda d: d.find_elements(By.ID, "extract-command"))[0].text
            assert command in {extract_command("synthetic", row["trial"], fresh_url) for row in front}
            assert f"--storage {fresh_url}" in command  # not the default store: the command must name it
            trial = int(command.split("--trial ")[1].split()[0])
            details = driver.find_element(By.ID, "details").text
            assert f"Trial {trial}" in details and "predicted by profile pixel4" in details and "MAPE" in details
            wait.until(lambda d: d.execute_script(
                "return document.querySelector('#scatter .js-plotly-plot').data[4].name") == f"trial {trial}")
            driver.save_screenshot(str(ARTIFACTS / "dashboard-experiment.png"))

            # a constraint slider filters live: drag the top of latency on xeon half way down
            thumb = driver.find_element(By.CSS_SELECTOR, '[id*="latency_ms@xeon"] .dash-slider-thumb-2')
            track = driver.find_element(By.CSS_SELECTOR, '[id*="latency_ms@xeon"] .dash-slider-track')
            ActionChains(driver).click_and_hold(thumb).pause(0.2).move_by_offset(-track.size["width"] // 2, 0).pause(0.2) \
                .release().perform()
            where = wait.until(lambda d: [e.text for e in d.find_elements(By.CSS_SELECTOR, "#where-text .where")])[0]
            assert where.startswith("--where 'latency_ms@xeon <= ")
            passing = driver.find_element(By.ID, "where-text").text.split(" of ")[0]
            bound = float(where.split("<= ")[1].rstrip("'"))
            filtered = _api(base, "/api/pareto?experiment=synthetic&objectives=latency_ms%40pixel4,naswot"
                                  f"&where=latency_ms%40xeon%3C%3D{bound}")
            wait.until(lambda d: len(d.execute_script(FRONT_POINTS)) == len(filtered))
            assert int(passing.replace(",", "")) < 200 and len(filtered) < len(front)
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
            driver.save_screenshot(str(ARTIFACTS / "dashboard-experiment-bottom.png"))

            # a search still running: new trials appear without a reload
            driver.get(base + "/experiment/real-run")
            wait.until(lambda d: "12 trials" in d.find_element(By.ID, "summary-line").text)
            run_real(fresh_url, 16)
            wait.until(lambda d: "16 trials" in d.find_element(By.ID, "summary-line").text)
        except Exception:
            driver.save_screenshot(str(ARTIFACTS / "dashboard-failure.png"))
            raise
        finally:
            console += driver.get_log("browser")
    severe = [entry["message"] for entry in console if entry.get("level") == "SEVERE"]
    assert not severe, "browser console errors:\n" + "\n".join(severe)
