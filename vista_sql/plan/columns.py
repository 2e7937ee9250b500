"""Names of the internal columns every lowered statement uses, and how a name is quoted.

Kept below the optimizer and execution: the statistics and reuse checks read the same joined rows
the stages do, so they must agree on these names.
"""

from __future__ import annotations

from sqlglot import exp

KEY, IMAGE, LABEL, IS_TEST, OUT = (
    "__vista_key",
    "__vista_image",
    "__vista_label",
    "__vista_is_test",
    "__vista_out",
)
TENSORS = "__vista_tensors"  # hand-over tensors read back from a recorded layer
# The aliases the binder gives the two sides; columns in WHERE and ON are qualified by them.
IMAGES, TABLE = "img", "tab"


def quoted(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect="spark")
