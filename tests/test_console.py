"""The web console: a real server, driven by Debian's headless Chromium through Selenium."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from vista_sql import dbapi
from vista_sql.execution.runner import BASELINE
from vista_sql.interfaces.console.app import create_app
from vista_sql.interfaces.console.runs import Console

# Starts a JVM in a child process (shell, server, kernel, cluster daemons) or in this one.
pytestmark = pytest.mark.spark

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
LAYERS = ("block_2_add", "block_4_add")
TRANSFER = f"""\
TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM LAYERS ({", ".join(LAYERS)})
  ON images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular, max_iter = 5)
  EVALUATE SPLIT 0.25"""
LONG_TRANSFER = """\
TRANSFER FEATURES FROM resnet50 WEIGHTS RANDOM LAYERS (conv4_block6_out, avg_pool)
  ON images AS i (id, content) JOIN products AS p USING (id)
  TRAIN logistic_regression (LABEL is_popular) OPTIONS (partitions = 8)"""


@pytest.fixture(scope="module")
def server(vista, demo_views):
    """The console's app in a uvicorn thread, on the tests' VistaSession."""
    import uvicorn

    console = Console(dbapi.connect(session=vista))
    token = secrets.token_urlsafe(16)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = create_app(console, token)
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield SimpleNamespace(base=base, token=token, console=console)
    uv.should_exit = True
    thread.join(10)
    console.close()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.fail("Debian's chromium and chromium-driver are missing: `make test` installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,1100")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _request(url: str, body: dict | None = None, token: str | None = None):
    """(status, text) of a GET, or a POST when there is a body."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data)
    if token:
        request.add_header("X-Vista-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_requests_without_the_token_are_refused(server):
    before = server.console.snapshot()
    for path in ("/", "/api/status", "/?token=wrong"):
        status, text = _request(server.base + path)
        assert status == 403 and "token" in text
    status, _ = _request(server.base + "/api/run", {"sql": "DROP VIEW products"})
    assert status == 403
    status, _ = _request(server.base + "/api/run", {"sql": "DROP VIEW products"}, token="x")
    assert status == 403
    assert server.console.snapshot() == before  # nothing ran
    status, text = _request(f"{server.base}/?token={server.token}")
    assert status == 200 and "vista_sql console" in text


def _open(browser, server):
    browser.get(f"{server.base}/?token={server.token}")
    assert browser.title == "vista_sql console"


def _submit(browser, sql: str, button: str = "run") -> None:
    from selenium.webdriver.common.by import By

    editor = browser.find_element(By.ID, "editor")
    editor.clear()
    editor.send_keys(sql)
    browser.find_element(By.ID, button).click()


def _wait_until_finished(browser, timeout: float = 300) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    state = "return document.getElementById('status').dataset.state"
    WebDriverWait(browser, timeout, poll_frequency=0.3).until(
        lambda d: (
            d.execute_script(state) not in (None, "idle", "starting", "running")
            and not d.execute_script("return document.getElementById('run').disabled")
        )
    )
    return browser.execute_script(state)


def _grid(browser) -> tuple[list[str], list[list[str]]]:
    return browser.execute_script(
        """
        const grid = document.getElementById('grid');
        if (grid.hidden) return [[], []];
        const names = [...grid.tHead.rows[0].cells].map((th) => th.firstChild.textContent.trim());
        const texts = (tr) => [...tr.cells].map((td) => td.textContent);
        const rows = [...grid.tBodies[0].rows].map(texts);
        return [names, rows];
        """
    )


def test_run_a_transfer_in_the_browser_and_read_the_grid_and_chart(browser, server, spark):
    from selenium.webdriver.common.by import By

    _open(browser, server)
    _submit(browser, TRANSFER)
    state = _wait_until_finished(browser)
    error = browser.find_element(By.ID, "error").text
    assert state == "done", error
    names, rows = _grid(browser)
    records = [dict(zip(names, row, strict=True)) for row in rows]
    assert [r["layer"] for r in records] == [BASELINE, *LAYERS]
    joined = spark.sql("SELECT count(*) FROM images JOIN products USING (id)").first()[0]
    assert all(int(r["n_train"]) + int(r["n_test"]) == joined for r in records)
    assert all(0.0 <= float(r["accuracy"]) <= 1.0 for r in records)
    # The chart: one bar per layer at its accuracy, the structured-only line at the baseline's.
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart rect.bar")
    assert [b.get_attribute("data-layer") for b in bars] == list(LAYERS)
    shown = [float(b.get_attribute("data-value")) for b in bars]
    # One double shown twice, the grid rounding it to 4 decimals: equal once rounded alike.
    assert [round(v, 4) for v in shown] == [float(r["accuracy"]) for r in records[1:]]
    assert browser.find_elements(By.CSS_SELECTOR, "#chart line.baseline")
    # Each bar's 95 % interval as an error bar, from the result's accuracy_low to accuracy_high.
    intervals = browser.find_elements(By.CSS_SELECTOR, "#chart line.interval")
    drawn = [
        (float(i.get_attribute("data-low")), float(i.get_attribute("data-high"))) for i in intervals
    ]
    assert [(round(a, 4), round(b, 4)) for a, b in drawn] == [
        (float(r["accuracy_low"]), float(r["accuracy_high"])) for r in records[1:]
    ]
    # Every stage's bar ran to its end.
    stages = browser.find_elements(By.CSS_SELECTOR, "#progress tr.stage progress")
    assert stages and all(s.get_attribute("value") == s.get_attribute("max") for s in stages)
    # Each row was listed as soon as it was scored, as the grid then shows it.
    scored = browser.find_elements(By.CSS_SELECTOR, "#progress ul.scored li")
    listed = {item.text.split(": ")[0]: item.text for item in scored}
    assert set(listed) == {BASELINE, *LAYERS}, listed
    assert all(f"accuracy {float(r['accuracy']):.3f}" in listed[r["layer"]] for r in records)
    screenshot = os.environ.get("VISTA_CONSOLE_SCREENSHOT")
    if screenshot:
        browser.save_screenshot(screenshot)

    browser.find_element(By.ID, "explain").click()
    assert _wait_until_finished(browser) == "done"
    plan = browser.find_element(By.ID, "plan")
    assert plan.is_displayed() and all(layer in plan.text for layer in LAYERS)

    _submit(browser, "SELECT * FROM no_such_table")
    assert _wait_until_finished(browser) == "error"
    message = browser.find_element(By.ID, "error").text
    assert "no_such_table" in message and "\n" not in message
    assert not browser.find_element(By.ID, "grid").is_displayed()


def test_cancel_in_the_browser_and_one_statement_at_a_time(browser, server, spark):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, server)
    _submit(browser, LONG_TRANSFER)
    WebDriverWait(browser, 300, poll_frequency=0.3).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#progress tr.stage")
    )
    assert browser.find_element(By.ID, "run").get_attribute("disabled")
    status, text = _request(server.base + "/api/run", {"sql": "SELECT 1"}, server.token)
    assert status == 409 and "already running" in text
    browser.find_element(By.ID, "cancel").click()
    assert _wait_until_finished(browser, 120) == "cancelled"
    assert "cancelled" in browser.find_element(By.ID, "error").text
    _submit(browser, "SELECT count(*) AS n FROM images")
    assert _wait_until_finished(browser) == "done"
    names, rows = _grid(browser)
    assert names == ["n"] and rows == [[str(spark.table("images").count())]]


def test_vista_sql_serve_prints_a_url_with_its_token_and_stops_on_ctrl_c(tmp_path):
    command = [sys.executable, "-m", "vista_sql.interfaces.cli", "serve", "--port", "0"]
    child = subprocess.Popen(
        [*command, "--master", "local[1]"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        line = child.stdout.readline()
        assert line.startswith("vista_sql console: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1].strip()
        base, token = url.split("/?token=")
        assert len(token) >= 24
        assert _request(base + "/")[0] == 403
        status, page = _request(url)
        assert status == 200 and "Explain" in page
    finally:
        child.send_signal(signal.SIGINT)
        try:
            _, err = child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()  # its Spark JVM goes with it: the child's stdin pipe closes
            _, err = child.communicate()
    assert child.returncode == 0, err
    assert "Traceback" not in err


def test_serve_refuses_a_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "vista_sql.interfaces.cli", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
