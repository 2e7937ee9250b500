"""Real Spark daemons on 127.0.0.1 for the cluster tests, from the pip pyspark distribution.

A standalone master and workers (`bin/spark-class ...Master/Worker`) and a Spark Connect server.
pip's pyspark 4.0 ships no `sbin/start-connect-server.sh`, but it ships the Connect server's jar,
so the server starts the way that script does: `spark-submit --class SparkConnectServer`. Every
daemon runs in its own process group; stopping kills the group and any descendant that left it
(workers start executor JVMs, executors start Python workers), by pid.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pyspark

SPARK_HOME = Path(pyspark.__file__).parent
HOST = "127.0.0.1"
CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"
LOG4J = Path(__file__).resolve().parents[1] / "vista_sql" / "spark" / "log4j2.properties"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def environment(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(SPARK_HOME),
        SPARK_LOCAL_IP=HOST,
        SPARK_LOG_DIR=str(work / "logs"),
        SPARK_WORKER_DIR=str(work / "work"),
        SPARK_DAEMON_MEMORY="256m",  # the master and workers themselves
        PYSPARK_PYTHON=sys.executable,
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    return env


class Daemons:
    """Spark processes started by one test; `stop()` ends all of them, in whatever state."""

    def __init__(self, work: Path):
        self.work = work
        self.env = environment(work)
        self.processes: list[subprocess.Popen] = []
        (work / "logs").mkdir(parents=True, exist_ok=True)

    def start(self, name: str, command: list[str], **env: str) -> subprocess.Popen:
        log = open(self.work / "logs" / f"{name}.out", "wb")  # noqa: SIM115 - child's stdout
        process = subprocess.Popen(
            command,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        path = self.work / "logs" / f"{name}.out"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def standalone(self, workers: int, cores: int, memory: str) -> str:
        """A master and `workers` workers; returns the master URL once every worker is alive."""
        port, ui = free_port(), free_port()
        self.start(
            "master",
            [
                str(SPARK_HOME / "bin" / "spark-class"),
                "org.apache.spark.deploy.master.Master",
                *("--host", HOST, "--port", str(port), "--webui-port", str(ui)),
            ],
        )
        url = f"spark://{HOST}:{port}"
        wait_for_port(port, "master", self)
        for index in range(workers):
            self.start(
                f"worker{index}",
                [
                    str(SPARK_HOME / "bin" / "spark-class"),
                    "org.apache.spark.deploy.worker.Worker",
                    *("--host", HOST, "--cores", str(cores), "--memory", memory),
                    *("--webui-port", str(free_port())),
                    *("--work-dir", str(self.work / "work")),
                    url,
                ],
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            self.check_running()
            try:
                with urllib.request.urlopen(f"http://{HOST}:{ui}/json", timeout=5) as answer:
                    state = json.load(answer)
                alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
                if len(alive) == workers:
                    return url
            except OSError:
                pass
            time.sleep(1)
        raise TimeoutError(f"{workers} workers did not register:\n{self.log('master')}")

    def connect_server(self, master: str, conf: dict[str, str]) -> str:
        """A Spark Connect server on loopback; returns its sc:// URL once it listens."""
        port = free_port()
        settings = {
            "spark.connect.grpc.binding.address": HOST,
            "spark.connect.grpc.binding.port": str(port),
            "spark.ui.enabled": "false",
            "spark.pyspark.python": sys.executable,
            "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={LOG4J.as_uri()}",
            **conf,
        }
        pairs = [item for key, value in settings.items() for item in ("--conf", f"{key}={value}")]
        self.start(
            "connect",
            [
                str(SPARK_HOME / "bin" / "spark-submit"),
                *("--class", CONNECT_SERVER, "--name", "vista_sql connect test"),
                *("--master", master, *pairs),
            ],
            # The launcher sizes the Connect server's JVM as a daemon's, not by driver memory.
            SPARK_DAEMON_MEMORY=conf.get("spark.driver.memory", "1g"),
        )
        wait_for_port(port, "connect", self, timeout=120)
        return f"sc://{HOST}:{port}"

    def check_running(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"a Spark daemon exited ({process.args[1:3]})")

    def stop(self) -> None:
        """SIGTERM every process group and descendant, then SIGKILL what is left."""
        family: list[psutil.Process] = []
        for process in self.processes:
            try:
                parent = psutil.Process(process.pid)
                family += [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for member in family:
            try:
                member.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(family, timeout=15)
        for member in alive:
            try:
                member.kill()
            except psutil.NoSuchProcess:
                pass
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def __enter__(self) -> Daemons:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for_port(port: int, name: str, daemons: Daemons, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        daemons.check_running()
        try:
            socket.create_connection((HOST, port), timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{name} did not listen on port {port}:\n{daemons.log(name)}")
