"""Bad statements each give one clear line naming the problem (and where), and write nothing."""

from __future__ import annotations

import pytest

from vista_sql.errors import VistaBindError, VistaError, VistaSyntaxError

GOOD = {
    "cnn": "mobilenetv2 WEIGHTS RANDOM",
    "layers": "(out_relu)",
    "images": "images AS i (id, content)",
    "table": "products AS p",
    "join": "USING (id)",
    "where": "",
    "train": "logistic_regression (LABEL is_popular)",
    "tail": "",
}


def statement(**parts: str) -> str:
    p = {**GOOD, **parts}
    return (
        f"TRANSFER FEATURES FROM {p['cnn']} LAYERS {p['layers']} ON {p['images']} "
        f"JOIN {p['table']} {p['join']} {p['where']} TRAIN {p['train']} {p['tail']}"
    )


CASES = [
    # (id, statement, error class, fragment of the message)
    (
        "misspelt keyword",
        "TRANSFER FEATURES FROM resnet50 LAYER (avg_pool)",
        VistaSyntaxError,
        "expected LAYERS but found 'LAYER'",
    ),
    (
        "missing image column",
        statement(images="images AS i (id)"),
        VistaSyntaxError,
        "expected ', <image column>'",
    ),
    ("missing TRAIN", statement(train="").replace("TRAIN", ""), VistaSyntaxError, "expected TRAIN"),
    (
        "unterminated string",
        statement(tail="MATERIALIZE INTO '/tmp/x"),
        VistaSyntaxError,
        "cannot read the SQL",
    ),
    (
        "unknown CNN",
        statement(cnn="resnet5 WEIGHTS RANDOM"),
        VistaBindError,
        "unknown CNN 'resnet5'; did you mean 'resnet50'?",
    ),
    (
        "unknown layer",
        statement(cnn="resnet50 WEIGHTS RANDOM", layers="(avgpool)"),
        VistaBindError,
        "unknown layer 'avgpool' for resnet50; did you mean 'avg_pool'?",
    ),
    ("too many top layers", statement(layers="TOP 99"), VistaBindError, "LAYERS TOP needs 1.."),
    (
        "unknown images table",
        statement(images="imagez AS i (id, content)"),
        VistaBindError,
        "unknown table or view 'imagez'; did you mean 'images'?",
    ),
    (
        "unknown structured table",
        statement(table="produkts"),
        VistaBindError,
        "unknown table or view 'produkts'; did you mean 'products'?",
    ),
    (
        "unknown key column",
        statement(images="images AS i (ident, content)"),
        VistaBindError,
        "unknown column 'ident' in the images table",
    ),
    (
        "unknown image column",
        statement(images="images AS i (id, contents)"),
        VistaBindError,
        "unknown column 'contents' in the images table; did you mean 'content'?",
    ),
    (
        "image column not binary",
        statement(images="images AS i (id, id)"),
        VistaBindError,
        "image column 'id' is int, expected binary",
    ),
    (
        "join column missing on one side",
        statement(join="USING (price)"),
        VistaBindError,
        "unknown column 'price' in the images table",
    ),
    (
        "unknown alias in ON",
        statement(join="ON q.id = p.id"),
        VistaBindError,
        "unknown table or alias 'q'",
    ),
    (
        "unknown column in WHERE",
        statement(where="WHERE p.prize > 3"),
        VistaBindError,
        "unknown column 'prize' in the structured table; did you mean 'price'?",
    ),
    (
        "unknown label",
        statement(train="logistic_regression (LABEL popular)"),
        VistaBindError,
        "unknown column 'popular' in the structured table; did you mean 'is_popular'?",
    ),
    (
        "non-numeric label",
        statement(train="logistic_regression (LABEL category)"),
        VistaBindError,
        "label column 'category' is string; expected a numeric or boolean column",
    ),
    (
        "non-numeric feature",
        statement(train="logistic_regression (LABEL is_popular, FEATURES (price, category))"),
        VistaBindError,
        "feature column 'category' is string",
    ),
    (
        "unknown model",
        statement(train="logistic_regresion (LABEL is_popular)"),
        VistaBindError,
        "unknown model 'logistic_regresion'; did you mean 'logistic_regression'?",
    ),
    (
        "unknown model parameter",
        statement(train="logistic_regression (LABEL is_popular, max_iters = 3)"),
        VistaBindError,
        "unknown parameter 'max_iters' for logistic_regression; did you mean 'max_iter'?",
    ),
    (
        "mistyped model parameter",
        statement(train="logistic_regression (LABEL is_popular, max_iter = 'ten')"),
        VistaBindError,
        "parameter 'max_iter' of logistic_regression cannot be 'ten'",
    ),
    (
        "split out of range",
        statement(tail="EVALUATE SPLIT 1.5"),
        VistaBindError,
        "EVALUATE SPLIT must be between 0 and 1",
    ),
    (
        "unknown option",
        statement(tail="OPTIONS (batchsize = 8)"),
        VistaBindError,
        "unknown option 'batchsize'; did you mean 'batch_size'?",
    ),
    (
        "bad option value",
        statement(tail="OPTIONS (batch_size = 0)"),
        VistaBindError,
        "option 'batch_size' must be a positive integer",
    ),
    (
        "ImageNet weights offline",
        statement(cnn="resnet50 WEIGHTS 'imagenet'"),
        VistaBindError,
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
    ),
    (
        "missing weights file",
        statement(cnn="vgg16 WEIGHTS '/nonexistent/vgg.weights.h5'"),
        VistaBindError,
        "weights file '/nonexistent/vgg.weights.h5' does not exist",
    ),
    (
        "failing subquery",
        statement(table="(SELECT nope FROM products) p"),
        VistaBindError,
        "the structured subquery fails",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_statement_gives_one_line_error_and_writes_nothing(vista, demo_views, tmp_path, case):
    _, sql, kind, fragment = case
    target = tmp_path / "out"
    if "MATERIALIZE" not in sql:
        sql = (
            f"{sql} MATERIALIZE INTO '{target}'"
            if "OPTIONS" not in sql
            else sql.replace("OPTIONS", f"MATERIALIZE INTO '{target}' OPTIONS")
        )
    with pytest.raises(kind) as caught:
        vista.sql(sql)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message and "Traceback" not in message
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_there_are_at_least_fifteen_bad_statements():
    assert len(CASES) >= 15


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
