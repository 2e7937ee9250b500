"""The `vista://` SQLAlchemy dialect: engines, reflection, pandas.read_sql and jupysql's %sql."""

from __future__ import annotations

import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from vista_sql.execution import sql_functions

URL = "vista:///?master=local[2]&spark.sql.shuffle.partitions=3"

EXPLAIN = """\
EXPLAIN TRANSFER FEATURES FROM mobilenetv2 WEIGHTS RANDOM LAYERS (block_2_add)
  ON images AS i (id, content) JOIN products AS p USING (id)
  WHERE p.price > :min_price
  TRAIN logistic_regression (LABEL is_popular)"""


@pytest.fixture(scope="module")
def engine(spark, vista, demo_views):
    partitions = spark.conf.get("spark.sql.shuffle.partitions")
    engine = sa.create_engine(URL)
    yield engine
    engine.dispose()
    # The URL's setting lands on the shared session; later tests expect the fixture's.
    spark.conf.set("spark.sql.shuffle.partitions", partitions)
    # Each DB-API connection's VistaSession registers vista_features; give the shared one back.
    sql_functions.register(spark, vista.cnns)


def test_url_options_become_connect_arguments():
    dialect = sa.create_engine(URL).dialect
    args, kwargs = dialect.create_connect_args(sa.engine.make_url(URL))
    assert kwargs == {"master": "local[2]", "conf": {"spark.sql.shuffle.partitions": "3"}}
    remote = sa.engine.make_url("vista://spark-host:15003/")
    assert dialect.create_connect_args(remote)[1] == {"remote": "sc://spark-host:15003"}
    with pytest.raises(ValueError, match="unknown option colour"):
        dialect.create_connect_args(sa.engine.make_url("vista:///?colour=red"))


def test_reflection_reads_the_spark_catalog(engine, spark):
    inspector = sa.inspect(engine)
    assert spark.conf.get("spark.sql.shuffle.partitions") == "3"  # the URL's setting
    assert "default" in inspector.get_schema_names()
    views = inspector.get_view_names()
    assert {"images", "products"} <= set(views)
    assert set(inspector.get_temp_view_names()) >= {"images", "products"}
    columns = {c["name"]: c["type"] for c in inspector.get_columns("products")}
    assert list(columns) == spark.table("products").columns
    assert isinstance(columns["id"], sa.Integer)
    assert isinstance(columns["price"], sa.Float)
    assert isinstance(columns["category"], sa.String)
    assert isinstance(inspector.get_columns("images")[1]["type"], sa.LargeBinary)
    assert not inspector.has_table("no_such_table")
    # What BI tools ask of every table: Spark has no keys, indexes or constraints.
    assert inspector.get_pk_constraint("products")["constrained_columns"] == []
    assert inspector.get_foreign_keys("products") == inspector.get_indexes("products") == []
    assert inspector.get_unique_constraints("products") == []
    assert inspector.get_table_comment("products") == {"text": None}


def test_core_select_on_a_reflected_table(engine, spark):
    products = sa.Table("products", sa.MetaData(), autoload_with=engine)
    query = (
        sa.select(products.c.id, products.c.price)
        .where(products.c.category == "cheap")
        .order_by(products.c.id)
        .limit(5)
    )
    # Spark quotes identifiers with backticks; SQLAlchemy's default double quotes are strings.
    assert str(sa.select(sa.column("order")).compile(engine)) == "SELECT `order`"
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(query)]
    expected = spark.sql(
        "SELECT id, price FROM products WHERE category = 'cheap' ORDER BY id LIMIT 5"
    ).collect()
    assert rows == [tuple(row) for row in expected]


def test_pandas_read_sql_with_parameters_and_read_sql_table(engine, spark):
    threshold = spark.sql("SELECT avg(price) FROM products").first()[0]
    frame = pd.read_sql(
        sa.text("SELECT id, price FROM products WHERE price > :min ORDER BY id"),
        engine,
        params={"min": threshold},
    )
    expected = spark.sql(f"SELECT id, price FROM products WHERE price > {threshold} ORDER BY id")
    assert frame.equals(expected.toPandas())
    table = pd.read_sql_table("products", engine)
    assert list(table.columns) == spark.table("products").columns
    assert len(table) == spark.table("products").count()


def test_a_transfer_statement_through_sqlalchemy(engine):
    with engine.connect() as connection:
        plan = connection.execute(sa.text(EXPLAIN), {"min_price": 10}).scalar_one()
    assert "block_2_add" in plan and "10" in plan


@pytest.fixture(scope="module")
def ipython(engine, tmp_path_factory):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    # IPython takes over __main__ and the hooks; jupysql must not phone home from a test.
    saved = sys.modules["__main__"], sys.displayhook, sys.excepthook
    patch = pytest.MonkeyPatch()
    patch.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
    patch.setenv("PLOOMBER_STATS_ENABLED", "false")
    patch.setenv("PLOOMBER_VERSION_CHECK_DISABLED", "true")
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    shell.run_line_magic("load_ext", "sql")
    shell.run_line_magic("config", "SqlMagic.displaylimit = 5")
    yield shell
    shell.run_line_magic("sql", "--close vista")
    InteractiveShell.clear_instance()
    sys.modules["__main__"], sys.displayhook, sys.excepthook = saved
    patch.undo()


def test_jupysql_sql_magic(ipython, spark):
    ipython.run_line_magic("sql", f"{URL} --alias vista")
    result = ipython.run_cell(
        "%sql SELECT category, count(*) AS n FROM products GROUP BY category ORDER BY category"
    )
    assert result.success, result.error_in_exec
    frame = result.result.DataFrame()
    expected = spark.sql(
        "SELECT category, count(*) AS n FROM products GROUP BY category ORDER BY category"
    ).toPandas()
    assert frame.equals(expected)
    columns = ipython.run_cell("%sqlcmd columns --table products")
    assert columns.success, columns.error_in_exec
    assert all(name in str(columns.result) for name in spark.table("products").columns)
    ipython.user_ns["min_price"] = 10
    result = ipython.run_cell(f"%%sql\n{EXPLAIN.replace(':min_price', '{{min_price}}')}")
    assert result.success, result.error_in_exec
    assert "block_2_add" in result.result.DataFrame()["plan"][0]
