"""Bad statements each give one clear line naming the problem (and where), and write nothing."""

from __future__ import annotations

import pytest

from reliability.cases import STATEMENTS, statement
from vista_sql.errors import VistaError, VistaSyntaxError


@pytest.mark.parametrize("case", STATEMENTS, ids=[c.id for c in STATEMENTS])
def test_bad_statement_gives_one_line_error_and_writes_nothing(vista, demo_views, tmp_path, case):
    target = tmp_path / "out"
    sql = case.sql
    if "MATERIALIZE" not in sql:
        sql = (
            f"{sql} MATERIALIZE INTO '{target}'"
            if "OPTIONS" not in sql
            else sql.replace("OPTIONS", f"MATERIALIZE INTO '{target}' OPTIONS")
        )
    with pytest.raises(case.kind) as caught:
        vista.sql(sql)
    message = caught.value.message
    assert case.matches(message), message
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "sql, line, name",
    [
        (statement(cnn="resnet5 WEIGHTS RANDOM"), 1, "resnet5"),
        ("SELECT 1;\n" + statement(layers="(out_reLu, nope)"), 2, "out_reLu"),
        ("\n\n   " + statement(where="WHERE p.prize > 3"), 3, "prize"),
    ],
)
def test_bind_errors_point_at_the_name_in_the_script(vista, demo_views, sql, line, name):
    with pytest.raises(VistaError) as caught:
        vista.sql(sql)
    col = sql.splitlines()[line - 1].index(name) + 1
    assert (caught.value.line, caught.value.col) == (line, col), str(caught.value)


def test_spark_errors_in_plain_sql_are_one_line_with_position(vista):
    with pytest.raises(VistaError) as caught:
        vista.sql("SELECT 1;\nSELECT * FROM no_such_table_here")
    assert "no_such_table_here" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(VistaSyntaxError) as caught:
        vista.sql("SELECT 1;\nSELEC 2")
    assert caught.value.line == 2 and "\n" not in str(caught.value)
