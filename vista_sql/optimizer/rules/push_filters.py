"""Push WHERE conjuncts below the join, to the side whose columns they read.

A filter on structured columns then runs before the join, so images of filtered-out rows are never
decoded nor inferred; one on image-side columns (say, the key) shrinks the image scan itself.

>>> # WHERE tab.price > 10 AND img.id < 50 AND tab.a = img.b
>>> # → structured_filter: price > 10; image_filter: id < 50; residual: tab.a = img.b
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from vista_sql.plan.columns import IMAGES, TABLE


def _sides(condition: exp.Expr) -> set[str]:
    return {column.table for column in condition.find_all(exp.Column)}


def _conjoin(parts: list[exp.Expr]) -> exp.Expr | None:
    return exp.and_(*parts) if parts else None


def apply(plan, context):
    # Always derived from the statement's WHERE, so applying it again changes nothing.
    where = plan.query.where
    if where is None:
        return plan
    buckets: dict[str, list[exp.Expr]] = {IMAGES: [], TABLE: [], "both": []}
    for part in where.flatten() if isinstance(where, exp.And) else [where]:
        sides = _sides(part)
        key = sides.pop() if len(sides) == 1 else "both"
        buckets[key].append(part.copy())
    return dataclasses.replace(
        plan,
        image_filter=_conjoin(buckets[IMAGES]),
        structured_filter=_conjoin(buckets[TABLE]),
        residual_filter=_conjoin(buckets["both"]),
    )
