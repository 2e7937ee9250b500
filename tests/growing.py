"""Images that grow between statements, for the refresh tests: a folder of demo images behind
the view `growing`, the small ONNX graph (tests/onnx_models.py) and the statement re-run over them.
What the refresh tests prove is which rows reach the CNN and what is kept, not a model's numbers.
"""

from __future__ import annotations

# Two layers, two stages: the first infers from the images, the second from the first's hand-over
# tensors, the two ways a refresh's rows reach the CNN. A third layer cost every statement a
# stage, a write and a fit (test_refresh.py's longest test: 49 s with it, 43 s without) and
# proved nothing more; a refresh killed after its first layer's record
# (tests/test_refresh_tables.py) still has 2-4 s before the second's.
LAYERS = ("/maxpool/MaxPool_output_0", "logits")
FIRST = 30  # images at first; the demo data has 40


def growing_statement(block, target, *options) -> str:
    """The statement the tests re-run. On this tiny CNN inference costs next to nothing, so the
    cost model rightly prefers recomputing to reading the records back (tests/test_refresh_costs
    shows where it prefers refreshing); `refresh = true` makes it refresh here."""
    layers = ", ".join(f"`{name}`" for name in LAYERS)
    return (
        f"TRANSFER FEATURES FROM MODEL '{block}' LAYERS ({layers}) "
        "ON growing AS i (id, content) JOIN products USING (id) "
        "TRAIN logistic_regression (LABEL is_popular, max_iter = 5) "
        f"MATERIALIZE INTO '{target}' "
        f"OPTIONS (preprocess = 'torch', plan = 'staged'{''.join(', ' + o for o in options)})"
    )


def growing_views(folder) -> str:
    return (
        f"CREATE OR REPLACE TEMPORARY VIEW growing_files USING binaryFile "
        f"OPTIONS (path '{folder}', pathGlobFilter '*.png');"
        "CREATE OR REPLACE TEMPORARY VIEW growing AS "
        "SELECT CAST(regexp_extract(path, '([0-9]+)[.]png$', 1) AS INT) AS id, content "
        "FROM growing_files;"
    )


def inferred(vista) -> list[int]:
    """Rows each stage of the last statement inferred, stage by stage."""
    return [count for _, count in sorted(vista.last_metrics["inferred"].values())]
