"""``rdlr serve`` started for real: a subprocess with its own private Ray (never the suite's), bound to
127.0.0.1, exercised over HTTP (good, bad and 200 concurrent requests), its page driven in headless Chromium, and
stopped with Ctrl-C, which must take the Ray it started with it."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import soundfile as sf

from rdlr.cli import main
from rdlr.labels import CLASSES

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 600  # Ray, Serve's controller and proxy, and three replicas on a busy 2-core machine
STOP_TIMEOUT_S = 180
CONCURRENT = 200
MEMORY_GROWTH_LIMIT = 512 * 2**20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def resident_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return total


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    models: list[Path]
    pids: list[int] = field(default_factory=list)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def post(self, data: bytes, model: str | None = None, **kwargs) -> requests.Response:
        params = {} if model is None else {"model": model}
        return requests.post(f"{self.url}predict", data=data, params=params, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def service(served_models: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    if not Path("/proc/self/stat").exists():
        pytest.skip("the service tests follow the service's processes through Linux's /proc")
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "rdlr", "serve", *map(str, served_models), "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    running = Service(process, f"http://127.0.0.1:{port}/", log, served_models)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert process.poll() is None, f"rdlr serve exited ({process.returncode}):\n{running.output()}"
            try:
                if requests.get(f"{running.url}healthz", timeout=5).ok:
                    break
            except requests.RequestException:  # not listening yet, or the proxy up before the application
                pass
            time.sleep(2)
        else:
            pytest.fail(f"rdlr serve did not answer within {START_TIMEOUT_S}s:\n{running.output()}")
        running.pids = process_tree(process.pid)
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wav_bytes(seconds: float, peak: float = 0.2) -> bytes:
    t = np.arange(int(16_000 * seconds)) / 16_000
    buffer = io.BytesIO()
    sf.write(buffer, (peak * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 16_000, format="WAV")
    return buffer.getvalue()


def predicted_by_cli(model: Path, files: list[Path], out: Path) -> pd.DataFrame:
    assert main(["predict", "--no-progress", str(model), *map(str, files), "--out", str(out)]) == 0
    return pd.read_csv(out)


def test_predict_answers_with_the_labels_and_probabilities_rdlr_predict_gives(service, speech_files, tmp_path):
    files = speech_files[:3]
    expected = predicted_by_cli(service.models[1], files, tmp_path / "beta.csv")
    for path, (_, row) in zip(files, expected.iterrows()):
        as_body = service.post(path.read_bytes(), model="beta")
        as_form = requests.post(
            f"{service.url}predict?model=beta", files={"file": (path.name, path.read_bytes())}, timeout=600
        )
        for response in (as_body, as_form):
            assert response.status_code == 200, response.text
            answer = response.json()
            assert set(answer) == {"model", "label", "probabilities", "seconds"} and answer["model"] == "beta"
            assert answer["label"] == row["label"] and list(answer["probabilities"]) == list(CLASSES)
            np.testing.assert_allclose(
                [answer["probabilities"][c] for c in CLASSES], [row[f"prob_{c}"] for c in CLASSES], atol=2e-6
            )
            assert answer["seconds"] == pytest.approx(sf.info(str(path)).duration, abs=1e-3)
    assert service.post(files[0].read_bytes()).json()["model"] == "alpha"  # the first folder is the default


def test_health_models_and_page_routes(service):
    assert requests.get(f"{service.url}healthz", timeout=30).json() == {"status": "ok", "models": ["alpha", "beta"]}
    listed = requests.get(f"{service.url}models", timeout=30).json()
    assert [m["name"] for m in listed["models"]] == ["alpha", "beta"] and listed["default"] == "alpha"
    assert listed["models"][0]["classes"] == list(CLASSES)
    assert listed["models"][0]["card"]["features"][0]["name"] == "is10"
    for route, kind in (("", "text/html"), ("page.js", "text/javascript"), ("page.css", "text/css")):
        response = requests.get(f"{service.url}{route}", timeout=30)
        assert response.ok and response.headers["content-type"].startswith(kind)
        assert "http://" not in response.text and "https://" not in response.text  # no CDN, works offline
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
    html = requests.get(service.url, timeout=30).text
    for control in ("model", "file"):
        assert f'<label for="{control}">' in html and f'id="{control}"' in html


@pytest.mark.parametrize(
    ("make", "query", "status", "message"),
    [
        (lambda: b"this is not audio at all" * 100, None, 415, "not an audio file"),
        (lambda: b"", None, 400, "empty request body"),
        (lambda: b"OggS" + bytes(60), None, 415, "not an audio file"),
        (lambda: wav_bytes(121, 0.2), None, 413, "> 120 s"),
        (lambda: bytes(50 * 2**20 + 1), None, 413, "up to 50 MB"),
        (lambda: wav_bytes(1.0, 0.0), None, 422, "silent audio"),
        (lambda: wav_bytes(1.0), "gamma", 404, "unknown model 'gamma'; served: alpha, beta"),
        (lambda: wav_bytes(1.0), "../alpha/model.json", 404, "unknown model"),
    ],
    ids=["not-audio", "empty", "broken-ogg", "over-120s", "over-50MB", "silent", "unknown-model", "path-as-model"],
)
def test_bad_requests_get_a_4xx_json_error_and_the_service_keeps_answering(service, make, query, status, message):
    response = service.post(make(), model=query)
    assert response.status_code == status and message in response.json()["error"], response.text
    assert service.post(wav_bytes(1.0)).status_code == 200


def test_unsupported_formats_and_forms_without_a_file_are_refused(service):
    buffer = io.BytesIO()
    sf.write(buffer, np.sin(np.arange(16_000) / 5).astype(np.float32), 16_000, format="OGG", subtype="VORBIS")
    response = service.post(buffer.getvalue())
    assert response.status_code == 415 and "unsupported audio format OGG" in response.json()["error"]
    response = requests.post(f"{service.url}predict", files={"upload": ("a.wav", wav_bytes(1.0))}, timeout=60)
    assert response.status_code == 400 and "no field 'file'" in response.json()["error"]


def test_200_concurrent_requests_of_speech_are_all_answered_as_rdlr_predict_answers(service, speech_files, tmp_path):
    expected = predicted_by_cli(service.models[0], speech_files, tmp_path / "alpha.csv")
    bodies = [path.read_bytes() for path in speech_files]
    for index in range(20):  # warm up: every replica and batch path has run before memory is measured
        assert service.post(bodies[index % len(bodies)]).ok
    before = resident_bytes(process_tree(service.process.pid))
    with ThreadPoolExecutor(CONCURRENT) as pool:
        responses = list(pool.map(lambda i: service.post(bodies[i % len(bodies)]), range(CONCURRENT)))
    after = resident_bytes(process_tree(service.process.pid))
    assert [r.status_code for r in responses] == [200] * CONCURRENT
    for index, response in enumerate(responses):
        row = expected.iloc[index % len(bodies)]
        answer = response.json()
        assert answer["label"] == row["label"]
        np.testing.assert_allclose(
            [answer["probabilities"][c] for c in CLASSES], [row[f"prob_{c}"] for c in CLASSES], atol=2e-6
        )
    assert after - before < MEMORY_GROWTH_LIMIT, f"memory grew by {(after - before) / 2**20:.0f} MB"


def chromium() -> tuple[str, str]:
    """Paths of Chromium and its WebDriver, or a skip naming what is missing."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install 'rdlr[dev]')")
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.skip("no headless browser here: install Debian's chromium and chromium-driver (.ci/run does)")
    return browser, driver


def test_the_page_uploads_a_file_and_draws_the_probability_bars(service, speech_files, tmp_path):
    browser, driver_path = chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=900,1000",
    ):
        options.add_argument(argument)
    page = webdriver.Chrome(service=DriverService(driver_path), options=options)
    try:
        page.get(service.url)
        WebDriverWait(page, 60).until(lambda p: len(p.find_elements(By.CSS_SELECTOR, "#model option")) == 2)
        page.find_element(By.ID, "file").send_keys(str(speech_files[0]))
        page.find_element(By.ID, "send").click()
        WebDriverWait(page, 300).until(lambda p: len(p.find_elements(By.CSS_SELECTOR, "#bars .bar")) == len(CLASSES))
        answer = service.post(speech_files[0].read_bytes()).json()
        bars = page.find_elements(By.CSS_SELECTOR, "#bars .bar")
        assert [bar.get_attribute("aria-label") for bar in bars] == list(CLASSES)
        for bar in bars:
            probability = answer["probabilities"][bar.get_attribute("aria-label")]
            assert float(bar.get_attribute("aria-valuenow")) == pytest.approx(probability, abs=2e-6)
            track = bar.find_element(By.XPATH, "..")
            assert bar.size["width"] / track.size["width"] == pytest.approx(probability, abs=0.01)  # drawn to scale
        assert page.find_element(By.ID, "label").text == answer["label"]
        assert page.save_screenshot(str(tmp_path / "page.png")) and (tmp_path / "page.png").stat().st_size > 1000
        target = os.environ.get("RDLR_SERVE_SCREENSHOT")
        if target:
            shutil.copy(tmp_path / "page.png", target)
    finally:
        page.quit()


def test_ctrl_c_stops_the_service_and_the_ray_it_started(service):
    pids = process_tree(service.process.pid)
    assert len(pids) > 3  # the command, Ray's GCS and raylet, Serve's controller, proxy and replicas
    service.process.send_signal(signal.SIGINT)
    assert service.process.wait(timeout=STOP_TIMEOUT_S) == 0, service.output()
    deadline = time.monotonic() + 60
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(1)
    assert not [pid for pid in pids if alive(pid)], "processes of the service's Ray outlived it"
    assert "stopped" in service.output() and "Traceback" not in service.output()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{service.url}healthz", timeout=5)
