"""vista_sql.dbapi against PEP 249, on the shared local Spark and the demo views."""

from __future__ import annotations

import datetime
import decimal
import math
import threading

import pytest

from vista_sql import dbapi
from vista_sql.execution import events, sql_functions

TRANSFER = """\
TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM LAYERS (block_2_add)
  ON images AS i (id, content) JOIN products AS p USING (id)
  WHERE p.price > %(min_price)s AND p.category <> :not_this
  TRAIN logistic_regression (LABEL is_popular, max_iter = :iterations)
  EVALUATE SPLIT 0.25"""

HOSTILE = [
    "'; DROP VIEW products; --",
    "x' OR '1'='1",
    "\\",
    "back\\' slash",
    "/* open comment",
    "-- line comment\n; SELECT 1",
    "it''s",
    'double "quoted"',
    "naïve ✓ 数据",
    "tab\tnew\nline",
    ":other %(other)s %% ?",
]


@pytest.fixture(scope="module")
def conn(spark, vista, demo_views):
    connection = dbapi.connect(master="local[2]")
    yield connection
    connection.close()
    # A new VistaSession registers vista_features with its own CNNs; give the shared one back.
    sql_functions.register(spark, vista.cnns)


def test_module_globals_and_exception_hierarchy():
    assert dbapi.apilevel == "2.0"
    assert dbapi.threadsafety in (0, 1, 2, 3)
    assert dbapi.paramstyle in ("named", "pyformat")
    assert issubclass(dbapi.Warning, Exception) and issubclass(dbapi.Error, Exception)
    assert issubclass(dbapi.InterfaceError, dbapi.Error)
    assert issubclass(dbapi.DatabaseError, dbapi.Error)
    for name in ("Data", "Operational", "Integrity", "Internal", "Programming", "NotSupported"):
        assert issubclass(getattr(dbapi, f"{name}Error"), dbapi.DatabaseError)
    assert dbapi.NUMBER == "decimal(10,2)" and dbapi.STRING == "string" and dbapi.NUMBER != "date"


def test_connect_shares_the_running_spark_session(conn, spark):
    assert conn.session.spark is spark


def test_query_description_rowcount_and_fetching(conn, spark):
    query = "SELECT id, price, category FROM products WHERE id <= 7 ORDER BY id"
    expected = [tuple(row) for row in spark.sql(query).collect()]
    cursor = conn.cursor()
    assert cursor.description is None and cursor.rowcount == -1
    assert cursor.execute(query) is cursor
    names = [column[0] for column in cursor.description]
    assert names == ["id", "price", "category"]
    assert all(len(column) == 7 for column in cursor.description)
    codes = [column[1] for column in cursor.description]
    assert codes[0] == dbapi.NUMBER and codes[1] == dbapi.NUMBER and codes[2] == dbapi.STRING
    assert cursor.rowcount == len(expected)
    assert cursor.fetchone() == expected[0]
    assert cursor.fetchmany() == expected[1:2]  # arraysize rows
    cursor.arraysize = 3
    assert cursor.fetchmany() == expected[2:5]
    assert cursor.fetchall() == expected[5:]
    assert cursor.fetchone() is None and cursor.fetchall() == [] and cursor.fetchmany(4) == []
    assert list(cursor.execute(query)) == expected


def test_statements_without_rows(conn):
    cursor = conn.cursor()
    cursor.execute("CREATE OR REPLACE TEMPORARY VIEW dbapi_small AS SELECT 1 AS one")
    assert cursor.description is None and cursor.rowcount == -1
    with pytest.raises(dbapi.ProgrammingError, match="returns no rows"):
        cursor.fetchone()
    cursor.execute("DROP VIEW dbapi_small")
    with pytest.raises(dbapi.ProgrammingError, match="execute"):
        conn.cursor().fetchall()


def test_hostile_parameters_come_back_as_the_same_values(conn, spark):
    values = {f"v{i}": value for i, value in enumerate(HOSTILE)}
    values |= {
        "none": None,
        "int": 3_000_000_000,
        "float": 2.5,
        "nan": math.nan,
        "dec": decimal.Decimal("12.340"),
        "flag": True,
        "day": datetime.date(2024, 2, 29),
        "moment": datetime.datetime(2024, 2, 29, 13, 14, 15),
        "blob": b"\x00'\xff",
    }
    # Half in each style; the rest of the statement is written as it stays.
    columns = ", ".join(
        f"%({name})s AS {name}" if i % 2 else f":{name} AS {name}" for i, name in enumerate(values)
    )
    cursor = conn.cursor().execute(f"SELECT {columns}", values)
    (row,) = cursor.fetchall()
    got = dict(zip([c[0] for c in cursor.description], row, strict=True))
    assert math.isnan(got.pop("nan")) and bytes(got.pop("blob")) == values.pop("blob")
    values.pop("nan")
    assert got == values
    assert spark.catalog.tableExists("products")


def test_parameters_filter_rows_and_hostile_ones_match_nothing(conn, spark):
    cursor = conn.cursor()
    middle = spark.sql("SELECT percentile(price, 0.5) FROM products").first()[0]
    expected = spark.sql(f"SELECT count(*) FROM products WHERE price > {middle}").first()[0]
    cursor.execute("SELECT count(*) AS n FROM products WHERE price > %(min)s", {"min": middle})
    assert cursor.fetchone() == (expected,)
    cursor.execute("SELECT id FROM products WHERE id IN :ids ORDER BY id", {"ids": (3, 1, 99)})
    assert (
        cursor.fetchall()
        == spark.sql("SELECT id FROM products WHERE id IN (3, 1, 99) ORDER BY id").collect()
    )
    for value in HOSTILE[:3]:
        cursor.execute("SELECT id FROM products WHERE category = :c", {"c": value})
        assert cursor.fetchall() == []


def test_bad_parameters_and_bad_sql_raise_one_line_pep249_errors(conn):
    cursor = conn.cursor()
    with pytest.raises(dbapi.ProgrammingError, match=r"^2:7: no value for parameter 'b'$"):
        cursor.execute("SELECT :a,\n  1 + :b", {"a": 1})
    with pytest.raises(dbapi.ProgrammingError, match="mapping"):
        cursor.execute("SELECT :a", [1])
    with pytest.raises(dbapi.ProgrammingError, match="cannot bind a object"):
        cursor.execute("SELECT :a", {"a": object()})
    # A parameter is a literal, never a name: it cannot stand for a table.
    with pytest.raises(dbapi.DatabaseError) as raised:
        cursor.execute("SELECT * FROM :t", {"t": "products"})
    assert "\n" not in str(raised.value)
    with pytest.raises(dbapi.ProgrammingError, match=r"^1:\d+: ") as raised:
        cursor.execute("TRANSFER FEATURES FROM nonet LAYERS (x) ON images (id, content)")
    assert "\n" not in str(raised.value)
    # Positions point into the SQL as written, not as bound.
    wrong = "SELECT :a,\n  %(b)s + 1) FROM products"
    with pytest.raises(dbapi.ProgrammingError) as raised:
        cursor.execute(wrong, {"a": "a much longer literal than ':a'", "b": 1})
    line, col = str(raised.value).split(":")[:2]
    assert (int(line), int(col)) == (2, wrong.rindex(")") - wrong.index("\n"))
    with pytest.raises(dbapi.OperationalError) as raised:
        cursor.execute("SELECT * FROM no_such_table")
    assert "no_such_table" in str(raised.value) and "\n" not in str(raised.value)


def test_transfer_takes_parameters_in_where_and_train(conn, spark):
    prices = sorted(row[0] for row in spark.sql("SELECT price FROM products").collect())
    low = prices[len(prices) // 4]
    joined = spark.sql(f"SELECT count(*) FROM products WHERE price > {low}").first()[0]
    # A hostile string stays one literal inside a TRANSFER too (no row has that category).
    values = {"min_price": low, "iterations": 5, "not_this": HOSTILE[0]}
    cursor = conn.cursor().execute(TRANSFER, values)
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    assert [row["layer"] for row in rows][-1] == "block_2_add"
    assert all(row["n_train"] + row["n_test"] == joined for row in rows)
    assert all(0.0 <= row["accuracy"] <= 1.0 for row in rows)
    assert cursor.description[names.index("accuracy")][1] == dbapi.NUMBER
    assert spark.catalog.tableExists("products")


def test_cancel_stops_a_running_transfer_and_the_connection_stays_usable(conn):
    started = threading.Event()
    unsubscribe = events.subscribe(lambda e: e.kind == "started" and started.set())
    outcome: list = []

    def run():
        try:
            conn.cursor().execute(TRANSFER, {"min_price": 0, "iterations": 5, "not_this": ""})
            outcome.append("finished")
        except dbapi.Error as error:
            outcome.append(error)

    worker = threading.Thread(target=run)
    try:
        worker.start()
        assert started.wait(300), "the first stage never started"
        assert conn.cancel()
        worker.join(300)
    finally:
        unsubscribe()
    assert len(outcome) == 1 and isinstance(outcome[0], dbapi.QueryCancelledError), outcome
    assert "\n" not in str(outcome[0])
    assert not conn.cancel()  # nothing runs any more
    assert conn.cursor().execute("SELECT count(*) FROM images").fetchone()[0] > 0


def test_closed_cursor_and_connection_and_transactions(conn):
    other = dbapi.connect(session=conn.session)
    cursor = other.cursor()
    other.commit()
    with pytest.raises(dbapi.NotSupportedError):
        other.rollback()
    cursor.close()
    with pytest.raises(dbapi.InterfaceError):
        cursor.execute("SELECT 1")
    fresh = other.cursor()
    other.close()
    assert other.closed
    with pytest.raises(dbapi.InterfaceError):
        fresh.execute("SELECT 1")
    with pytest.raises(dbapi.InterfaceError):
        other.cursor()
    assert conn.session.spark.sql("SELECT 1").first()[0] == 1  # Spark stays up
