"""The rows a TRANSFER trains on, checked before any image is inferred, and the images it skipped.

Nothing to train on (an empty side, a join or WHERE that matches nothing, every label NULL, one
label value for a classifier) is a one-line error before the CNN runs. Rows that are left out
(NULL labels, keys without a partner, duplicate keys, undecodable images) are warnings on the
`vista_sql` logger, which the shell prints as `warning: ...` and Jupyter under the cell. The images
a statement skipped stay queryable in the temporary view `vista_skipped` (key, reason) until the
next TRANSFER replaces it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, IntegralType, NumericType, StringType

from vista_sql.errors import VistaExecutionError
from vista_sql.execution import lowering
from vista_sql.ml import models, training
from vista_sql.plan import nodes

log = logging.getLogger("vista_sql")

SKIPPED_VIEW = "vista_skipped"
SAMPLE = 3  # keys named in a warning
IMAGE_SAMPLE = 16  # images whose size is averaged for EXPLAIN's statistics
# Class names a label may hold: beyond this it is more likely a key or free text than classes,
# and every class is a literal in the statement's SQL and a probability in every prediction.
MAX_CLASSES = 1000
# Joined rows up to about this many (the images side's count decides) are counted, checked and
# split on the driver from one scan of their keys and labels: three small values a row.
LOCAL_ROWS = 100_000


@dataclass(frozen=True)
class Counts:
    """The joined rows and the images side, each counted in one pass, before any inference: the
    optimizer's statistics, the checks and the run's class count all read these."""

    rows: int  # joined rows (after WHERE)
    keys: int | None  # distinct keys among them; None: not counted (an extraction)
    null_labels: int | None
    label_values: int | None  # distinct non-NULL labels
    image_rows: int
    image_keys: int | None
    image_bytes: int  # average encoded image size; length() of a binary column reads no pixels
    # A classifier's held-out rows, drawn from the same pass when the rows were counted on the
    # driver; None: the run draws them with Spark (training.draw_split).
    split: training.Split | None = None
    # The joined rows' distinct keys, when counted on the driver: what the statement needs,
    # which the comparison with recorded layers reads instead of running the join again.
    needed_keys: frozenset | None = field(default=None, compare=False, repr=False)

    @property
    def classes(self) -> int:
        """Distinct label values, NULL counted as one, as a DISTINCT over the labels gives
        (0 when the labels were not counted: an extraction trains nothing)."""
        return (self.label_values or 0) + (1 if self.null_labels else 0)


def count(spark, query, baseline_sql: str, labels: bool = True) -> Counts:
    """Two aggregates: one over the images side, one over the joined rows. Without `labels` (an
    extraction, which trains nothing and so checks and warns of nothing) only rows and image
    sizes: each DISTINCT is a shuffle, and under adaptive execution every shuffle is one more
    job (a +1 % REFRESH on 1,000 images ran 71 jobs in all with them, 67 without)."""
    key, label = F.col(lowering.quoted(lowering.KEY)), F.col(lowering.quoted(lowering.LABEL))
    images = spark.table(query.images.name)
    image_bytes = average_image_bytes(images, query.image)
    if not labels:
        image_rows = images.agg(F.count(F.lit(1))).first()[0]
        joined, needed = spark.sql(baseline_sql), None
        if image_rows <= LOCAL_ROWS and _sorts_as_in_python(joined, labels=False):
            keys = [r[0] for r in joined.select(lowering.KEY).collect()]
            rows, needed = len(keys), frozenset(keys)
        else:
            rows = joined.count()
        return Counts(rows, None, None, None, image_rows, None, image_bytes, needed_keys=needed)
    image_rows, image_keys = images.agg(
        F.count(F.lit(1)), F.countDistinct(F.col(lowering.quoted(query.key)))
    ).first()
    joined = spark.sql(baseline_sql)
    if image_rows <= LOCAL_ROWS and _sorts_as_in_python(joined):
        return _counted_here(joined, query, image_rows, image_keys, image_bytes)
    rows, keys, null_labels, values = joined.agg(
        F.count(F.lit(1)),
        F.countDistinct(key),
        F.count_if(label.isNull()),
        F.countDistinct(label),
    ).first()
    return Counts(rows, keys, null_labels, values, image_rows, image_keys, image_bytes)


def average_image_bytes(images, column: str) -> int:
    """The average encoded size of the first IMAGE_SAMPLE images: only EXPLAIN shows it (the cost
    model does not read it), and averaging every image read all their bytes, 0.3–0.4 s of each
    statement over 1,000 images; counting rows without it reads none. take() reads the first
    file partition only."""
    sizes = [
        r[0] for r in images.select(F.length(F.col(lowering.quoted(column)))).take(IMAGE_SAMPLE)
    ]
    sizes = [size for size in sizes if size is not None]
    return int(sum(sizes) / len(sizes)) if sizes else 0


def _sorts_as_in_python(joined, labels: bool = True) -> bool:
    """Keys Python orders and compares as Spark does (integers; strings, by code point as UTF-8
    bytes sort) and labels it groups as Spark does."""
    types = {f.name: f.dataType for f in joined.schema.fields}
    if not isinstance(types[lowering.KEY], IntegralType | StringType):
        return False
    return not labels or isinstance(types[lowering.LABEL], NumericType | BooleanType | StringType)


def _counted_here(joined, query, image_rows: int, image_keys: int, image_bytes: int) -> Counts:
    """The joined rows' counts and, for a classifier, its split, from one scan of (key, label,
    split hash): a job without a shuffle, where Spark's DISTINCTs and the split's window took
    eight jobs (each shuffle is one under adaptive execution)."""
    hashed = training.split_order(lowering.KEY, query.seed)
    rows = [tuple(r) for r in joined.select(lowering.KEY, lowering.LABEL, hashed).collect()]
    labels = [r[1] for r in rows if r[1] is not None]
    # Spark counts NaN as one value and splits its rows as one group; Python would not.
    nan = any(isinstance(v, float) and math.isnan(v) for v in labels)
    values = len({"NaN" if isinstance(v, float) and math.isnan(v) else v for v in labels})
    split = None
    if not nan and models.lookup(query.model).task == "classification":
        split = training.split_of_rows(rows, split=query.split, seed=query.seed)
    keys = frozenset(r[0] for r in rows)
    null_labels = len(rows) - len(labels)
    counted = (
        len(rows),
        len(keys),
        null_labels,
        values,
        image_rows,
        image_keys,
        image_bytes,
        split,
    )
    return Counts(*counted, needed_keys=keys)


def classes(spark, query: nodes.TransferQuery) -> tuple[str, ...]:
    """A label of class names: its values in the joined rows, most frequent first and then by
    name (StringIndexer's order), in one job before any image is inferred."""
    label = F.col(lowering.quoted(lowering.LABEL))
    counted = (
        spark.sql(lowering.baseline_sql(nodes.draft(query)))
        .where(label.isNotNull())
        .groupBy(label)
        .count()
        .orderBy(F.desc("count"), label)
        .limit(MAX_CLASSES + 1)
        .collect()
    )
    if len(counted) > MAX_CLASSES:
        raise VistaExecutionError(
            f"the label '{query.label}' holds more than {MAX_CLASSES:,} distinct class names in "
            "the joined rows; a classifier here takes at most that many"
        )
    return tuple(row[0] for row in counted)


def before_run(spark, plan, counts: Counts, train: bool = True) -> None:
    """Refuse a statement with nothing to train on; warn about rows it will leave out. An
    extraction (`train=False`, REFRESH FEATURES) trains nothing: only no rows at all stops it."""
    q, c = plan.query, counts
    key, label = F.col(lowering.quoted(lowering.KEY)), F.col(lowering.quoted(lowering.LABEL))
    joined = spark.sql(lowering.baseline_sql(plan))
    if c.rows == 0:
        what = "train on" if train else "extract"
        raise VistaExecutionError(f"nothing to {what}: {_why_empty(spark, q, c.image_rows)}")
    if not train:
        return
    if c.null_labels == c.rows:
        raise VistaExecutionError(
            f"nothing to train on: the label '{q.label}' is NULL in all {c.rows} joined rows"
        )
    if c.label_values == 1 and models.lookup(q.model).task == "classification":
        raise VistaExecutionError(
            f"the label '{q.label}' has a single value in the {c.rows - c.null_labels} joined "
            "rows; a classifier needs at least two"
        )
    if c.null_labels:
        sample = _keys(joined.where(label.isNull()).select(key))
        log.warning(
            "left out %d of %d rows whose label '%s' is NULL (%s)",
            c.null_labels,
            c.rows,
            q.label,
            sample,
        )
    if c.keys < c.rows:
        side = "images" if c.image_keys < c.image_rows else "structured"
        repeated = joined.groupBy(key).count().where("count > 1").select(key)
        log.warning(
            "the %s side holds duplicate keys (%s): %d extra joined rows, each trained on as its "
            "own row",
            side,
            _keys(repeated),
            c.rows - c.keys,
        )
    if q.where is None:
        _warn_unmatched(spark, q, joined, key, c)


def _warn_unmatched(spark, q, joined, key, c: Counts) -> None:
    if c.keys < c.image_keys:
        image_key = F.col(lowering.quoted(q.key))
        lonely = (
            spark.table(q.images.name)
            .select(image_key.alias(lowering.KEY))
            .join(joined.select(key), lowering.KEY, "left_anti")
        )
        log.warning(
            "left out %d of %d images whose key has no row on the structured side (%s)",
            c.image_keys - c.keys,
            c.image_keys,
            _keys(lonely),
        )
    # Each structured row joins at most one image when image keys are unique.
    if c.image_keys == c.image_rows:
        structured_rows = spark.table(q.structured.name).count()
        if structured_rows > c.rows:
            log.warning(
                "left out %d of %d structured rows that match no image",
                structured_rows - c.rows,
                structured_rows,
            )


def _why_empty(spark, q, image_rows: int) -> str:
    if image_rows == 0:
        return f"the images side ({_shown(q.images.name)}) has no rows"
    if spark.table(q.structured.name).isEmpty():
        return f"the structured side ({_shown(q.structured.name)}) has no rows"
    if q.where is not None:
        return "no row is left after the join and WHERE"
    return "no image key matches a row of the structured side"


def _shown(name: str) -> str:
    """A table's name as the user wrote it; a subquery for the views binding made for them."""
    return "a subquery" if name.startswith("`__vista_") else name


def _keys(frame) -> str:
    first = frame.columns[0]
    found = [str(row[0]) for row in frame.orderBy(first).limit(SAMPLE).collect()]
    return ("key " if len(found) == 1 else "keys ") + ", ".join(found)


def report_skipped(spark, table: str, on_error: str, failed_rows: int | None = None) -> int:
    """Rows of the first stage whose image could not be decoded: the view `vista_skipped`, a
    warning naming a few, or with on_error = 'fail' an error naming the first. `failed_rows`,
    when the stage counted them, spares the query (a Spark job) where it is 0."""
    failed = (
        spark.table(lowering.quoted(table))
        .where(f"{lowering.OUT}.error IS NOT NULL")
        .select(F.col(lowering.KEY).alias("key"), F.col(f"{lowering.OUT}.error").alias("reason"))
    )
    # Keys and one-line reasons: small even when many images are bad, and the view must outlive
    # the stage table it comes from.
    skipped = [] if failed_rows == 0 else sorted(failed.collect(), key=lambda row: str(row[0]))
    spark.createDataFrame(skipped, failed.schema).createOrReplaceTempView(SKIPPED_VIEW)
    if not skipped:
        return 0
    if on_error == "fail":
        key, reason = skipped[0]
        raise VistaExecutionError(f"image for key {key}: {reason} (OPTIONS (on_error = 'fail'))")
    examples = "; ".join(f"key {k}: {r}" for k, r in skipped[:SAMPLE])
    log.warning(
        "skipped %d rows whose image could not be decoded (%s); all of them: SELECT * FROM %s",
        len(skipped),
        examples,
        SKIPPED_VIEW,
    )
    return len(skipped)
