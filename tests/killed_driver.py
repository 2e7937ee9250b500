"""A `vista-sql -f` job whose driver is killed mid-statement, as a crash or an OOM killer would:
the tests of resuming and refreshing after a kill start it here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

DEADLINE_SECONDS = 300


def kill_when(script: Path, ready: Callable[[], bool], what: str) -> None:
    """Run `script` with the shell in a session of its own and SIGKILL the whole session (its
    JVM and Python workers die with it) once `ready()`; fail if the job ended before."""
    job = subprocess.Popen(
        [str(Path(sys.executable).with_name("vista-sql")), "-f", str(script)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while job.poll() is None and time.monotonic() < deadline and not ready():
            time.sleep(0.05)
        assert job.poll() is None, f"the job ended before {what}"
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
