"""A new Spark JVM maps the class-data archive built for its options, and starts as before, without
a word, where it finds a file it refuses (vista_sql/spark/class_archive.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from vista_sql.cache import CACHE_ENV
from vista_sql.spark import class_archive
from vista_sql.spark.session import COLLECTOR, JAVA_OPTIONS, java_options

# Starts a JVM in a child process (shell, server, kernel, cluster daemons) or in this one.
pytestmark = pytest.mark.spark

CHILD = (
    "from vista_sql import VistaSession; "
    "print(VistaSession(master='local[1]').sql('SELECT 41 + 1').first()[0])"
)
SESSION_CLASS = " org.apache.spark.sql.SparkSession "
FROM_ARCHIVE = "source: shared objects file (top)"


def _child(tmp_path, environ: dict) -> tuple[subprocess.CompletedProcess, str]:
    """A session in a new process; what it printed, and the JVM's log of where each class came
    from (JAVA_TOOL_OPTIONS: read by the JVM, left out of the archive's key)."""
    log = tmp_path / "classes.log"
    environ = {**environ, "JAVA_TOOL_OPTIONS": f"-Xlog:class+load=info:file={log}"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=environ, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.split()[-1] == "42", done.stderr[-2000:]
    loaded = [line for line in log.read_text().splitlines() if SESSION_CLASS in line]
    assert len(loaded) == 1, loaded
    return done, loaded[0]


def test_a_new_jvm_loads_spark_from_the_archive_built_for_its_options(tmp_path):
    # The run's own, built by the command a process runs at exit (tests/conftest.py), waited for
    # if still building; None if that command failed.
    archive = class_archive.build(JAVA_OPTIONS)
    assert archive is not None and archive.exists()
    assert not list(archive.parent.glob("*.partial"))
    _, session_class = _child(tmp_path, dict(os.environ))
    assert FROM_ARCHIVE in session_class, session_class


def test_a_file_the_jvm_refuses_as_its_archive_is_passed_over_in_silence(tmp_path, monkeypatch):
    # What a JVM finds where its archive should be may not be one it can map: another Java's
    # (the name hashes the binary, but files get copied), or not an archive at all.
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    archive = class_archive.path(JAVA_OPTIONS)
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"not a class-data archive\n" * 4096)
    done, session_class = _child(tmp_path, dict(os.environ))
    assert FROM_ARCHIVE not in session_class, session_class
    assert "cds" not in done.stderr and "shared archive" not in done.stderr, done.stderr[-2000:]


def test_auto_builds_at_exit_where_none_exists_and_off_neither_maps_nor_builds(
    tmp_path, monkeypatch
):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))  # no archive here
    monkeypatch.setattr(class_archive, "_building", set())
    monkeypatch.setattr(class_archive.atexit, "register", lambda *call: built.append(call))
    built = []
    monkeypatch.setenv(class_archive.MODE_ENV, "off")
    assert class_archive.options(JAVA_OPTIONS) == "" and built == []
    monkeypatch.setenv(class_archive.MODE_ENV, "use")
    assert class_archive.options(JAVA_OPTIONS) == "" and built == []
    monkeypatch.setenv(class_archive.MODE_ENV, "auto")
    assert class_archive.options(JAVA_OPTIONS) == "" and len(built) == 1
    class_archive.options(JAVA_OPTIONS)  # a second session in the same process
    assert built == [(class_archive._build_in_background, JAVA_OPTIONS)]


def test_the_embedded_jvm_collects_for_throughput_unless_the_environment_chose_a_collector():
    assert java_options({}).split() == [JAVA_OPTIONS, COLLECTOR]
    for variable in ("JDK_JAVA_OPTIONS", "JAVA_TOOL_OPTIONS"):
        # Two collectors on one command line: the JVM would refuse to start.
        chosen = {variable: "-Xss4m -XX:+UseSerialGC"}
        assert java_options(chosen) == JAVA_OPTIONS
    assert java_options({"JDK_JAVA_OPTIONS": "-XX:TieredStopAtLevel=1"}).endswith(COLLECTOR)
