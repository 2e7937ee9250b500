"""The vista dialect: our statements parse to typed nodes and print back; Spark SQL is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

import vista_sql  # noqa: F401  (registers the dialect)
from vista_sql.dialect import nodes
from vista_sql.errors import VistaSyntaxError
from vista_sql.session import parse

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "grammar" / "examples").glob("*.sql"))


def test_there_are_grammar_examples():
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_grammar_example_parses_and_round_trips(path):
    text = path.read_text()
    tree = sqlglot.parse_one(text, read="vista")
    ours = (
        nodes.TransferFeatures,
        nodes.ExplainTransfer,
        nodes.PredictWith,
        nodes.ExplainPredict,
        nodes.DropSavedModel,
    )
    assert isinstance(tree, ours)
    printed = tree.sql(dialect="vista")
    assert sqlglot.parse_one(printed, read="vista") == tree
    assert printed == sqlglot.parse_one(printed, read="vista").sql(dialect="vista")


def test_nodes_carry_each_clause():
    tree = sqlglot.parse_one((EXAMPLES[1]).read_text(), read="vista")
    assert tree.this.name == "resnet50"
    assert tree.args["weights"].this.name == "imagenet"
    assert [layer.name for layer in tree.args["layers"]] == [
        "conv4_block6_out",
        "conv5_block1_out",
        "conv5_block3_out",
        "avg_pool",
    ]
    images = tree.args["images"]
    assert (images.this.name, images.args["alias"].name) == ("images", "i")
    assert (images.args["key"].name, images.args["image"].name) == ("id", "content")
    assert [c.name for c in tree.args["using"]] == ["id"]
    assert tree.args["where"].sql() == "p.price > 10"
    train = tree.args["train"]
    assert train.this.name == "logistic_regression" and train.args["label"].name == "is_popular"
    assert [p.this.name for p in train.args["params"]] == ["max_iter", "reg_param", "elastic_net"]
    assert tree.args["split"].name == "0.2"
    assert tree.args["materialize"].name == "/data/features"
    assert {o.this.name: o.expression.name for o in tree.args["options"]} == {
        "seed": "7",
        "batch_size": "16",
    }


def test_explain_cost_and_top_layers():
    tree = sqlglot.parse_one(
        "EXPLAIN COST TRANSFER FEATURES FROM vgg16 WEIGHTS RANDOM LAYERS TOP 3 ON i (k, b) "
        "JOIN t USING (k) TRAIN logistic_regression (LABEL y)",
        read="vista",
    )
    assert isinstance(tree, nodes.ExplainTransfer) and tree.args["cost"]
    assert tree.this.args["top"].name == "3" and tree.this.args["weights"].args["random"]


def test_several_cnns_each_with_its_weights_and_save_best():
    tree = sqlglot.parse_one(
        "TRANSFER FEATURES FROM resnet50 WEIGHTS RANDOM SEED 1, vgg16, MODEL '/m.keras' "
        "LAYERS TOP 2 ON i (k, b) JOIN t USING (k) TRAIN logistic_regression (LABEL y) "
        "EVALUATE METRICS (f1) SAVE BEST AS winner OPTIONS (seed = 3)",
        read="vista",
    )
    assert tree.this.name == "resnet50" and tree.args["weights"].args["seed"].name == "1"
    more = tree.args["more_cnns"]
    assert [m.this.name for m in more] == ["vgg16", "/m.keras"]
    assert more[0].args.get("weights") is None and isinstance(more[1].this, nodes.ModelFile)
    assert tree.args["save_as"].name == "winner"


def test_predict_show_and_drop_saved_models():
    tree = parse("PREDICT WITH m ON imgs AS i (id, content) JOIN t AS p USING (id) WHERE p.x > 1")
    assert isinstance(tree, nodes.PredictWith) and tree.this.name == "m"
    assert tree.args["images"].args["key"].name == "id" and tree.args["where"] is not None
    assert isinstance(parse("show saved models"), nodes.ShowSavedModels)
    dropped = parse("DROP SAVED MODEL IF EXISTS m")
    assert isinstance(dropped, nodes.DropSavedModel) and dropped.args["exists"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a, b FROM t JOIN u USING (id) WHERE a > 1",
        "EXPLAIN SELECT 1",
        "EXPLAIN EXTENDED SELECT * FROM t",
        "CREATE TEMPORARY VIEW v USING binaryFile OPTIONS (path '/x', pathGlobFilter '*.png')",
        "SET spark.sql.shuffle.partitions = 4",
        "CACHE TABLE c OPTIONS ('storageLevel' 'DISK_ONLY') AS SELECT 1",
        "SELECT transfer, features FROM t",
        "WITH a AS (SELECT 1 AS x) SELECT x FROM a",
        "INSERT OVERWRITE TABLE t SELECT * FROM u",
    ],
)
def test_plain_spark_sql_parses_exactly_as_spark(sql):
    assert repr(sqlglot.parse(sql, read="vista")) == repr(sqlglot.parse(sql, read="spark"))


@pytest.mark.parametrize(
    "sql, line, col, fragment",
    [
        ("TRANSFER FEATURES FROM resnet50 LAYER (avg_pool)", 1, 33, "expected LAYERS"),
        (
            "TRANSFER FEATURES FROM resnet50 LAYERS (avg_pool)\n  ON images (id content)",
            2,
            17,
            "', <image column>'",
        ),
        (
            "TRANSFER FEATURES FROM resnet50 LAYERS (avg_pool) ON images (id, c) JOIN p USING (id)",
            None,
            None,
            "expected TRAIN",
        ),
        ("TRANSFER FEATURES FROM resnet50 LAYERS TOP x ON i (a, b)", 1, 44, "number of layers"),
        ("TRANSFER FEATURES FROM resnet50, LAYERS TOP 1", 1, 34, "a CNN name"),
        ("PREDICT WITH m ON imgs (id, c) JOIN t", None, None, "USING (<column>) or ON"),
    ],
)
def test_syntax_errors_point_at_the_token(sql, line, col, fragment):
    with pytest.raises(VistaSyntaxError) as caught:
        parse(sql)
    error = caught.value
    assert fragment in error.message and "\n" not in str(error)
    if line is not None:
        assert (error.line, error.col) == (line, col)
