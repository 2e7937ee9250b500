"""A label of class names: indexed most frequent first (then by name), trained and scored on the
indices, and named again wherever a user reads a prediction."""

from __future__ import annotations

import json

import pytest
from tolerances import PROBABILITY, same_metrics

from vista_sql.errors import VistaBindError, VistaExecutionError

# What is checked is the label's path, not a CNN's numbers: the small ONNX block will do.
STATEMENT = """TRANSFER FEATURES FROM MODEL '{block}' LAYERS (logits)
  ON {images} AS i (id, content) JOIN {table} AS p USING (id)
  TRAIN {learner} (LABEL {label}, max_iter = 5)
  EVALUATE METRICS ({metrics})
  {save} OPTIONS (preprocess = 'torch')"""
# Names that must stay literals: a quote and a backslash would break SQL built by pasting.
TIERS = ("it's cheap", "mid", "dear\\")


@pytest.fixture(scope="module")
def labelled(vista, demo_views, tmp_path_factory):
    root = tmp_path_factory.mktemp("class_models")
    vista.sql(f"SET vista.models.dir = {root}")
    vista.sql(
        f"""CREATE OR REPLACE TEMPORARY VIEW numbered AS SELECT id, hint, weight, is_popular
        FROM products;
        CREATE OR REPLACE TEMPORARY VIEW labelled AS
        SELECT id, hint, weight,
               CASE WHEN is_popular = 1 THEN 'popular' ELSE 'plain' END AS kind,
               CASE WHEN price < 15 THEN '{_sql(TIERS[0])}' WHEN price < 30 THEN '{TIERS[1]}'
                    ELSE '{_sql(TIERS[2])}' END AS tier
        FROM products"""
    )
    yield root
    vista.spark.conf.unset("vista.models.dir")


@pytest.fixture(scope="module")
def transfer(onnx_block):
    def statement(table, label, save="", images="images", learner="logistic_regression"):
        metrics = "rmse" if learner == "linear_regression" else "accuracy, f1"
        return STATEMENT.format(
            block=onnx_block,
            images=images,
            table=table,
            label=label,
            learner=learner,
            metrics=metrics,
            save=save,
        )

    return statement


def _sql(name: str) -> str:
    return name.replace("\\", "\\\\").replace("'", "\\'")


def _frequency_order(spark, column: str) -> list[str]:
    rows = spark.sql(
        f"SELECT {column}, count(*) AS n FROM labelled JOIN images USING (id) GROUP BY {column}"
    ).collect()
    return [r[0] for r in sorted(rows, key=lambda r: (-r.n, r[0]))]


def test_class_names_train_as_their_indices_would(vista, spark, labelled, transfer):
    # 'plain' (is_popular = 0) is the more frequent class in the demo data, so it is index 0:
    # the same labels, split and fit as the numeric column, hence the same metrics.
    assert _frequency_order(spark, "kind") == ["plain", "popular"]
    numeric = vista.sql(transfer("numbered", "is_popular"))
    named = vista.sql(transfer("labelled", "kind"))
    numbers = [tuple(r) for r in numeric.drop("seconds").collect()]
    assert [tuple(r) for r in named.drop("seconds").collect()] == same_metrics(numbers)


def test_predictions_and_the_saved_model_name_the_classes(vista, spark, labelled, transfer):
    vista.sql(transfer("labelled", "tier", save="SAVE BEST AS tiers")).collect()
    meta = json.loads((labelled / "tiers" / "vista_model.json").read_text())
    assert meta["classes"] == _frequency_order(spark, "tier")
    assert sorted(meta["classes"]) == sorted(TIERS)

    predicted = vista.sql(
        "PREDICT WITH tiers ON images AS i (id, content) JOIN labelled AS p USING (id)"
    )
    assert dict(predicted.dtypes)["prediction"] == "string"
    rows = predicted.orderBy("id").collect()
    assert rows and {r.prediction for r in rows} <= set(TIERS)
    for row in rows:  # probability[i] is classes[i]'s: the named class is the likeliest
        best = max(range(len(TIERS)), key=lambda i: row.probability[i])
        assert row.probability[best] - row.probability[meta["classes"].index(row.prediction)] <= (
            PROBABILITY
        )

    in_sql = vista.sql(
        "SELECT id, vista_predict_model('tiers', content, struct(hint, weight)) AS r"
        " FROM images JOIN labelled USING (id) ORDER BY id"
    ).collect()
    by_key = {r.id: r.prediction for r in rows}
    assert {r.id: r.r.label for r in in_sql} == by_key
    assert all(meta["classes"][int(r.r.prediction)] == r.r.label for r in in_sql)


def test_a_regressor_or_too_many_classes_are_refused_before_any_image_is_inferred(
    vista, labelled, transfer
):
    with pytest.raises(VistaBindError, match="is a regressor and needs a numeric label") as bad:
        vista.sql(transfer("labelled", "kind", learner="linear_regression"))
    assert bad.value.line == 3

    # 40 images × 26 copies under new keys: 1,040 joined rows, each its own class name.
    vista.sql(
        """CREATE OR REPLACE TEMPORARY VIEW many_images AS
          SELECT i.id * 100 + r.id AS id, content FROM images AS i CROSS JOIN range(26) AS r;
        CREATE OR REPLACE TEMPORARY VIEW many_labels AS
          SELECT l.id * 100 + r.id AS id, hint, weight, CAST(l.id * 100 + r.id AS STRING) AS name
          FROM labelled AS l CROSS JOIN range(26) AS r"""
    )
    with pytest.raises(VistaExecutionError, match="more than 1,000 distinct class names"):
        vista.sql(transfer("many_labels", "name", images="many_images"))
    assert vista.last_metrics.get("inferred") in (None, {})
