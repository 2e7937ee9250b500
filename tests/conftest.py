"""Shared fixtures: one local SparkSession for the whole run and a small real demo dataset."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import demo_data  # noqa: E402

DEMO_IMAGES = 40


@pytest.fixture(scope="session")
def spark():
    from vista_sql.spark.session import local_session

    session = local_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def vista(spark):
    from vista_sql import VistaSession

    return VistaSession(spark)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "data"
    demo_data.build(out, DEMO_IMAGES)
    return out


@pytest.fixture(scope="session")
def demo_views(vista, demo_dir):
    """Views `images` (id, content) and `products` over the demo files, as a user makes them."""
    vista.sql(
        f"""
        CREATE OR REPLACE TEMPORARY VIEW digit_files USING binaryFile
          OPTIONS (path '{demo_dir / "images"}', pathGlobFilter '*.png');
        CREATE OR REPLACE TEMPORARY VIEW images AS
          SELECT CAST(regexp_extract(path, '([0-9]+)[.]png$', 1) AS INT) AS id, content
          FROM digit_files;
        CREATE OR REPLACE TEMPORARY VIEW products_raw USING parquet
          OPTIONS (path '{demo_dir / "products.parquet"}');
        CREATE OR REPLACE TEMPORARY VIEW products AS
          SELECT *, CASE WHEN price > 20 THEN 'expensive' ELSE 'cheap' END AS category
          FROM products_raw;
        """
    )
    return demo_dir
