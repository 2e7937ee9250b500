"""Bad statements: each a one-line error naming what and where."""

from __future__ import annotations

from reliability.case import Case
from vista_sql.errors import VistaBindError, VistaSyntaxError

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


def _s(id, input, sql, kind, expected) -> Case:
    return Case(id, input, expected, kind, sql)


STATEMENTS = [
    _s(
        "misspelt keyword",
        "`LAYER (avg_pool)`",
        "TRANSFER FEATURES FROM resnet50 LAYER (avg_pool)",
        VistaSyntaxError,
        "expected LAYERS but found 'LAYER'",
    ),
    _s(
        "missing image column",
        "`ON images AS i (id)`",
        statement(images="images AS i (id)"),
        VistaSyntaxError,
        "expected ', <image column>' after the key column",
    ),
    _s(
        "missing TRAIN",
        "no `TRAIN` clause",
        statement(train="").replace("TRAIN", ""),
        VistaSyntaxError,
        "expected TRAIN…",
    ),
    _s(
        "unterminated string",
        "`MATERIALIZE INTO '/tmp/x`",
        statement(tail="MATERIALIZE INTO '/tmp/x"),
        VistaSyntaxError,
        "cannot read the SQL: …",
    ),
    _s(
        "unknown CNN",
        "`FROM resnet5`",
        statement(cnn="resnet5 WEIGHTS RANDOM"),
        VistaBindError,
        "unknown CNN 'resnet5'; did you mean 'resnet50'?; known: …",
    ),
    _s(
        "unknown layer",
        "`LAYERS (avgpool)` of resnet50",
        statement(cnn="resnet50 WEIGHTS RANDOM", layers="(avgpool)"),
        VistaBindError,
        "unknown layer 'avgpool' for resnet50; did you mean 'avg_pool'?",
    ),
    _s(
        "too many top layers",
        "`LAYERS TOP 99`",
        statement(layers="TOP 99"),
        VistaBindError,
        "LAYERS TOP needs 1..12 for mobilenetv2, not 99",
    ),
    _s(
        "unknown images table",
        "`ON imagez`",
        statement(images="imagez AS i (id, content)"),
        VistaBindError,
        "unknown table or view 'imagez'; did you mean 'images'?",
    ),
    _s(
        "unknown structured table",
        "`JOIN produkts`",
        statement(table="produkts"),
        VistaBindError,
        "unknown table or view 'produkts'; did you mean 'products'?",
    ),
    _s(
        "unknown key column",
        "`(ident, content)`",
        statement(images="images AS i (ident, content)"),
        VistaBindError,
        "unknown column 'ident' in the images table",
    ),
    _s(
        "unknown image column",
        "`(id, contents)`",
        statement(images="images AS i (id, contents)"),
        VistaBindError,
        "unknown column 'contents' in the images table; did you mean 'content'?",
    ),
    _s(
        "image column not binary",
        "`(id, id)`",
        statement(images="images AS i (id, id)"),
        VistaBindError,
        "image column 'id' is int, expected binary image bytes (for files, read them with a "
        "binaryFile view)",
    ),
    _s(
        "join column missing on one side",
        "`USING (price)`, no such images column",
        statement(join="USING (price)"),
        VistaBindError,
        "unknown column 'price' in the images table",
    ),
    _s(
        "unknown alias in ON",
        "`ON q.id = p.id`",
        statement(join="ON q.id = p.id"),
        VistaBindError,
        "unknown table or alias 'q'",
    ),
    _s(
        "unknown column in WHERE",
        "`WHERE p.prize > 3`",
        statement(where="WHERE p.prize > 3"),
        VistaBindError,
        "unknown column 'prize' in the structured table; did you mean 'price'?",
    ),
    _s(
        "unknown label",
        "`LABEL popular`",
        statement(train="logistic_regression (LABEL popular)"),
        VistaBindError,
        "unknown column 'popular' in the structured table; did you mean 'is_popular'?",
    ),
    _s(
        "string label for a regressor",
        "`LABEL category` (class names) for linear_regression",
        statement(train="linear_regression (LABEL category)"),
        VistaBindError,
        "label column 'category' holds class names (string); linear_regression is a regressor "
        "and needs a numeric label",
    ),
    _s(
        "string feature",
        "`FEATURES (price, category)`",
        statement(train="logistic_regression (LABEL is_popular, FEATURES (price, category))"),
        VistaBindError,
        "feature column 'category' is string; features must be numeric",
    ),
    _s(
        "label as feature",
        "`FEATURES (price, is_popular)`",
        statement(train="logistic_regression (LABEL is_popular, FEATURES (price, is_popular))"),
        VistaBindError,
        "column 'is_popular' is the label or a join key, not a feature",
    ),
    _s(
        "unknown model",
        "`TRAIN logistic_regresion`",
        statement(train="logistic_regresion (LABEL is_popular)"),
        VistaBindError,
        "unknown model 'logistic_regresion'; did you mean 'logistic_regression'?…",
    ),
    _s(
        "unknown model parameter",
        "`max_iters = 3`",
        statement(train="logistic_regression (LABEL is_popular, max_iters = 3)"),
        VistaBindError,
        "unknown parameter 'max_iters' for logistic_regression; did you mean 'max_iter'?…",
    ),
    _s(
        "mistyped model parameter",
        "`max_iter = 'ten'`",
        statement(train="logistic_regression (LABEL is_popular, max_iter = 'ten')"),
        VistaBindError,
        "parameter 'max_iter' of logistic_regression cannot be 'ten'…",
    ),
    _s(
        "split above 1",
        "`EVALUATE SPLIT 1.5`",
        statement(tail="EVALUATE SPLIT 1.5"),
        VistaBindError,
        "EVALUATE SPLIT must be between 0 and 1 (exclusive), not 1.5",
    ),
    _s(
        "split of 1",
        "`EVALUATE SPLIT 1`",
        statement(tail="EVALUATE SPLIT 1"),
        VistaBindError,
        "EVALUATE SPLIT must be between 0 and 1 (exclusive), not 1",
    ),
    _s(
        "split of 0",
        "`EVALUATE SPLIT 0`",
        statement(tail="EVALUATE SPLIT 0"),
        VistaBindError,
        "EVALUATE SPLIT must be between 0 and 1 (exclusive), not 0",
    ),
    _s(
        "negative split",
        "`EVALUATE SPLIT -0.2`",
        statement(tail="EVALUATE SPLIT -0.2"),
        VistaSyntaxError,
        "expected a fraction after EVALUATE SPLIT",
    ),
    _s(
        "one fold",
        "`EVALUATE CROSS VALIDATE 1`",
        statement(tail="EVALUATE CROSS VALIDATE 1"),
        VistaBindError,
        "CROSS VALIDATE needs at least 2 folds, not 1",
    ),
    _s(
        "unknown option",
        "`OPTIONS (batchsize = 8)`",
        statement(tail="OPTIONS (batchsize = 8)"),
        VistaBindError,
        "unknown option 'batchsize'; did you mean 'batch_size'?",
    ),
    _s(
        "bad option value",
        "`OPTIONS (batch_size = 0)`",
        statement(tail="OPTIONS (batch_size = 0)"),
        VistaBindError,
        "option 'batch_size' must be a positive integer, not 0",
    ),
    _s(
        "boolean for an integer option",
        "`OPTIONS (partitions = true)`",
        statement(tail="OPTIONS (partitions = true)"),
        VistaBindError,
        "option 'partitions' must be a positive integer, not True",
    ),
    _s(
        "unknown on_error",
        "`OPTIONS (on_error = 'ignore')`",
        statement(tail="OPTIONS (on_error = 'ignore')"),
        VistaBindError,
        "option 'on_error' must be one of 'skip', 'fail', not 'ignore'",
    ),
    _s(
        "ImageNet weights offline",
        "`resnet50 WEIGHTS 'imagenet'`, no cached file",
        statement(cnn="resnet50 WEIGHTS 'imagenet'"),
        VistaBindError,
        "ImageNet weights for resnet50 are not in the Keras cache and cannot be downloaded: put "
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5 in …",
    ),
    _s(
        "missing weights file",
        "`WEIGHTS '/nonexistent/vgg.weights.h5'`",
        statement(cnn="vgg16 WEIGHTS '/nonexistent/vgg.weights.h5'"),
        VistaBindError,
        "weights file '/nonexistent/vgg.weights.h5' does not exist",
    ),
    _s(
        "failing subquery",
        "`JOIN (SELECT nope FROM products)`",
        statement(table="(SELECT nope FROM products) p"),
        VistaBindError,
        "the structured subquery fails: …",
    ),
]
