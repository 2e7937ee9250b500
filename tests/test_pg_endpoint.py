"""The PostgreSQL endpoint, driven by real clients: Debian's psql, psycopg 3, pg8000, SQLAlchemy's
postgresql+psycopg dialect and pandas, over real sockets to a server on the test session."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import threading
import time

import pytest

PASSWORD = "s3cret-for-tests"
PG_JDBC = "/usr/share/java/postgresql.jar"  # Debian's libpostgresql-jdbc-java (make test installs)
ONNX_LAYER = "/maxpool/MaxPool_output_0"
TRANSFER = (
    "TRANSFER FEATURES FROM MODEL '{model}' LAYERS (`{layer}`) "
    "ON images AS i (id, content) JOIN products AS p USING (id) "
    "WHERE p.price > {bound} TRAIN logistic_regression (LABEL is_popular)"
)
RESNET = "TRANSFER FEATURES FROM resnet50 WEIGHTS RANDOM LAYERS (avg_pool)"
# A Spark query that runs until cancelled: far more rows than a test could ever wait for.
ENDLESS = "SELECT sum(hash(id)) FROM range(0, 1000000000000, 1, 2)"


@pytest.fixture(scope="module")
def endpoint(vista, demo_views):
    from vista_sql.interfaces.pg.server import Endpoint

    server = Endpoint(vista, "127.0.0.1", 0, PASSWORD)
    server.start()
    yield server
    server.stop()


def _dsn(endpoint, password=PASSWORD) -> str:
    return f"host=127.0.0.1 port={endpoint.port} user=vista password={password} dbname=vista"


def _psql(endpoint, *commands, password=PASSWORD, **popen):
    args = ["psql", "-X", "-h", "127.0.0.1", "-p", str(endpoint.port), "-U", "vista", "-d", "vista"]
    for command in commands:
        args += ["-c", command]
    env = {**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"}
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )


def _no_jobs_soon(spark, seconds: float = 30.0) -> bool:
    tracker, deadline = spark.sparkContext.statusTracker(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not tracker.getActiveJobsIds():
            return True
        time.sleep(0.2)
    return False


def test_psql_lists_describes_selects_and_transfers_with_progress_notices(
    endpoint, onnx_block, spark
):
    transfer = TRANSFER.format(model=onnx_block, layer=ONNX_LAYER, bound=0)
    done = _psql(endpoint, r"\dt", r"\d products", "SELECT count(*) AS n FROM images", transfer)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err
    assert all(f"public | {name}" in out for name in ("images", "products")), out
    assert "price      | double precision" in out and "(2 rows)" not in out.split("\n n")[0]
    lines = out.splitlines()
    count = int(lines[next(i for i, line in enumerate(lines) if line.strip() == "n") + 2])
    assert count == spark.table("images").count(), out
    header = next(line for line in out.splitlines() if "feature_dim" in line)
    assert "accuracy_low" in header and "p_value" in header, header
    assert "(structured only)" in out and ONNX_LAYER in out
    assert "(2 rows)" in out.split(header)[1], out  # the baseline and the layer
    # psql prints NOTICE messages on stderr: the stage started and finished.
    assert f"NOTICE:  stage 1/1 {ONNX_LAYER}: started" in err, err
    assert f"{count}/{count} images" in err and "done in" in err, err


def test_psycopg_binds_parameters_as_literals_and_reads_typed_columns(endpoint, spark):
    import psycopg

    with psycopg.connect(_dsn(endpoint), autocommit=True) as conn:
        hostile = "x'); DROP VIEW products; --"
        row = conn.execute(
            "SELECT %s AS s, %s AS i, %s AS d, %s AS b, CAST(1 AS INT) AS four, "
            "array(1.5D, 2.0D) AS a, TIMESTAMP'2026-01-02 03:04:05' AS t, "
            "named_struct('k', 1) AS j",
            (hostile, 7, 2.5, True),
        ).fetchone()
        assert row == (
            hostile,
            7,
            2.5,
            True,
            1,
            [1.5, 2.0],
            datetime.datetime(2026, 1, 2, 3, 4, 5),
            {"k": 1},
        )
        names = [d.name for d in conn.execute("SELECT 1 AS one").description]
        assert names == ["one"]
        cheap = conn.execute(
            "SELECT id, price FROM products WHERE price < %s AND hint = %s ORDER BY id",
            (20.0, 1),
        ).fetchall()
        assert cheap and all(price < 20.0 for _, price in cheap)
        rows = spark.table("products").count()  # the view the hostile value names is still there
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (rows,)


def test_explain_show_and_describe_return_typed_rows(endpoint, onnx_block):
    """vista_sql's own statements and Spark's commands come back as rows like a query's."""
    import psycopg

    transfer = TRANSFER.format(model=onnx_block, layer=ONNX_LAYER, bound=0)
    with psycopg.connect(_dsn(endpoint), autocommit=True) as conn:
        plan = conn.execute("EXPLAIN " + transfer)
        assert [d.name for d in plan.description] == ["plan"]
        assert plan.fetchone()[0].startswith("== vista_sql plan ==")
        cnns = conn.execute("SHOW CNNS")
        names = [row[0] for row in cnns.fetchall()]
        assert "resnet50" in names and cnns.description[0].type_code == 25  # text
        described = conn.execute("DESCRIBE products").fetchall()
        assert ("price", "double") in [(row[0], row[1]) for row in described]
        tables = {row[1] for row in conn.execute("SHOW TABLES").fetchall()}
        assert {"images", "products"} <= tables


def test_pg8000_and_sqlalchemy_and_pandas_read_with_parameters(endpoint):
    import pandas as pd
    import pg8000.dbapi
    import sqlalchemy as sa

    conn = pg8000.dbapi.connect(
        user="vista", password=PASSWORD, host="127.0.0.1", port=endpoint.port, database="vista"
    )
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT id, hint FROM products WHERE id < %s ORDER BY id", (4,))
        pg8000_rows = [tuple(r) for r in cursor.fetchall()]
    finally:
        conn.close()
    engine = sa.create_engine(
        f"postgresql+psycopg://vista:{PASSWORD}@127.0.0.1:{endpoint.port}/vista"
    )
    try:
        query = sa.text("SELECT id, hint FROM products WHERE id < :n ORDER BY id")
        frame = pd.read_sql(query, engine, params={"n": 4})
        with engine.connect() as connection:
            version = connection.execute(sa.text("SELECT version()")).scalar()
    finally:
        engine.dispose()
    assert [tuple(r) for r in frame.itertuples(index=False)] == pg8000_rows
    assert [r[0] for r in pg8000_rows] == [1, 2, 3]
    assert version.startswith("PostgreSQL 16.0 (vista_sql")


def test_pgjdbc_metadata_lists_the_schema_tree_and_runs_a_prepared_query(endpoint, spark):
    """DBeaver's and Metabase's driver: getSchemas, getTables, getColumns, a ? parameter."""
    from pathlib import Path

    client = Path(__file__).with_name("pg_clients") / "MetadataClient.java"
    url = f"jdbc:postgresql://127.0.0.1:{endpoint.port}/vista"
    done = subprocess.run(
        ["java", "-cp", PG_JDBC, str(client), url, "vista", PASSWORD],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in done.stdout.splitlines()]
    assert ["product", "PostgreSQL", "16.0"] in lines
    assert ["schema", "public"] in lines
    tables = {line[1]: line[2] for line in lines if line[0] == "table"}
    assert tables.get("images") == tables.get("products") == "VIEW", tables  # temporary views
    columns = [line[1:] for line in lines if line[0] == "column"]
    want = [(f.name, f.dataType.simpleString()) for f in spark.table("products").schema.fields]
    assert [name for name, _ in columns] == [name for name, _ in want]
    assert dict(columns)["price"] == "float8" and dict(columns)["id"] == "int8"
    rows = [(int(line[1]), float(line[2])) for line in lines if line[0] == "row"]
    expected = spark.sql("SELECT id, price FROM products WHERE id < 3 ORDER BY id").collect()
    assert rows == [tuple(r) for r in expected]


@pytest.mark.parametrize(
    ("statement", "sqlstate", "at"),
    [
        ("SELEC 1", "42601", "SELEC"),
        ("SELECT * FROM no_such_table", "42P01", "no_such_table"),
        ("SELECT no_such_column FROM products", "42703", "no_such_column"),
        (
            f"{RESNET} ON no_such AS i (id, content) "
            "JOIN products AS p USING (id) TRAIN logistic_regression (LABEL is_popular)",
            "42P01",
            "no_such",
        ),
        (
            f"{RESNET} ON images AS i (id, content) "
            "JOIN products AS p USING (id)\nTRAIN logistic_regression (LABEL no_such)",
            "42703",
            "no_such",
        ),
    ],
)
def test_errors_are_error_responses_with_sqlstate_and_position(endpoint, statement, sqlstate, at):
    """The position is where psql puts its caret: the offending name's first character."""
    import psycopg

    with psycopg.connect(_dsn(endpoint), autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as raised:
            conn.execute(statement)
        assert raised.value.sqlstate == sqlstate, raised.value
        assert "\n" not in raised.value.diag.message_primary
        position = int(raised.value.diag.statement_position)
        assert statement[position - 1 :].startswith(at), statement[position - 1 :]
        assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection stays usable


def test_a_wrong_password_is_refused(endpoint):
    import psycopg

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(_dsn(endpoint, password="wrong"))


def test_a_cancel_request_stops_the_statements_jobs_and_the_connection_goes_on(endpoint, spark):
    import psycopg

    with psycopg.connect(_dsn(endpoint), autocommit=True) as conn:
        threading.Timer(3.0, conn.cancel_safe).start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled) as raised:
            conn.execute(ENDLESS)
        assert raised.value.sqlstate == "57014"
        assert time.monotonic() - started < 60
        assert _no_jobs_soon(spark)
        assert conn.execute("SELECT 2").fetchone() == (2,)


def test_pg_cancel_backend_from_another_connection_cancels(endpoint, spark):
    import psycopg

    with psycopg.connect(_dsn(endpoint), autocommit=True) as busy:
        pid = busy.execute("SELECT pg_backend_pid()").fetchone()[0]
        outcome = []

        def run():
            try:
                busy.execute(ENDLESS)
            except psycopg.Error as error:
                outcome.append(error.sqlstate)

        worker = threading.Thread(target=run)
        worker.start()
        tracker, deadline = spark.sparkContext.statusTracker(), time.monotonic() + 30
        while not tracker.getActiveJobsIds() and time.monotonic() < deadline:
            time.sleep(0.1)
        with psycopg.connect(_dsn(endpoint), autocommit=True) as other:
            assert other.execute(f"SELECT pg_cancel_backend({pid})").fetchone() == (True,)
            assert other.execute("SELECT pg_cancel_backend(1)").fetchone() == (False,)
        worker.join(timeout=60)
        assert outcome == ["57014"]
        assert _no_jobs_soon(spark)


def test_psql_ctrl_c_and_a_client_that_disappears_both_cancel(endpoint, spark):
    interrupted = _psql(endpoint, ENDLESS)
    time.sleep(3.0)
    interrupted.send_signal(signal.SIGINT)
    _, err = interrupted.communicate(timeout=60)
    assert "canceling statement due to user request" in err, err
    assert _no_jobs_soon(spark)

    killed = _psql(endpoint, ENDLESS)
    tracker = spark.sparkContext.statusTracker()
    deadline = time.monotonic() + 30
    while not tracker.getActiveJobsIds() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tracker.getActiveJobsIds(), "the query never started"
    killed.kill()
    killed.wait()
    assert _no_jobs_soon(spark), "the deserted statement's jobs still run"


def test_trusting_clients_needs_loopback(vista):
    from vista_sql.interfaces.pg.server import Endpoint

    with pytest.raises(ValueError, match="loopback"):
        Endpoint(vista, "0.0.0.0", 0, password=None)


def test_out_of_memory_and_unknown_failures_read_as_their_sqlstate():
    from vista_sql import dbapi
    from vista_sql.errors import VistaExecutionError, VistaPlanningError
    from vista_sql.interfaces.pg.errors import to_pg

    worker = dbapi.OperationalError("out of memory in a Python worker: ...", sqlstate="53200")
    assert to_pg(worker, "SELECT 1").sqlstate == "53200"
    raised = VistaExecutionError("out of memory in CNN stage 1 of 1: ...")
    assert to_pg(dbapi.exceptions.from_vista(raised), "x").sqlstate == "53200"
    planning = VistaPlanningError("no configuration fits 1 GB")
    assert to_pg(dbapi.exceptions.from_vista(planning), "x").sqlstate == "53200"
    assert to_pg(dbapi.OperationalError("lost"), "x").sqlstate == "58000"


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--pg-port", "5433", "--pg-host", "0.0.0.0"], "say so with --pg-allow-remote"),
        (["--pg-port", "5433", "--pg-host", "0.0.0.0", "--pg-trust"], "needs a loopback"),
        (["--no-console"], "nothing to serve without --pg-port"),
    ],
)
def test_serve_refuses_an_open_door_before_starting_spark(flags, says, capsys):
    from vista_sql.interfaces.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", *flags])
    assert exited.value.code == 2 and says in capsys.readouterr().err


@pytest.mark.spark
def test_vista_sql_serve_pg_port_answers_psql_and_stops_on_ctrl_c(tmp_path):
    """The command a user runs: its own JVM, a generated password in the printed URL."""
    import sys
    from pathlib import Path

    vista_sql = Path(sys.executable).with_name("vista-sql")
    server = subprocess.Popen(
        [str(vista_sql), "serve", "--no-console", "--pg-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        line = server.stdout.readline()
        assert line.startswith("vista_sql PostgreSQL endpoint: postgresql://vista:"), line
        url = line.split()[-1]
        done = subprocess.run(
            ["psql", "-X", "-At", url, "-c", "SELECT 6 * 7"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.stdout.strip() == "42", done.stderr
        wrong = url.replace("vista:", "vista:x", 1)
        refused = subprocess.run(
            ["psql", "-X", "-At", wrong, "-c", "SELECT 1"], capture_output=True, text=True
        )
        assert refused.returncode != 0 and "password authentication failed" in refused.stderr
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert "Traceback" not in err, err
