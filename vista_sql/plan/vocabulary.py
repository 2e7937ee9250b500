"""The words a plan is made of. String-valued, so EXPLAIN text, OPTIONS hints and the SQL they
end up in read exactly as the bare strings did (`Strategy.STAGED == "staged"`)."""

from __future__ import annotations

from enum import StrEnum


class Strategy(StrEnum):
    """Vista's logical plans, in the order ties are broken (Staged is Vista's default)."""

    STAGED = "staged"  # layer i+1 from layer i's hand-over tensors
    LAZY = "lazy"  # every layer from the raw images
    EAGER = "eager"  # one pass to every layer


class JoinPlacement(StrEnum):
    BEFORE = "before"  # join pushdown: only joined images are decoded and inferred
    AFTER = "after"


class Join(StrEnum):
    BROADCAST = "broadcast"
    SHUFFLE = "shuffle"  # shuffle-hash join


class Persist(StrEnum):
    """The `persist` hint."""

    DESER = "deser"
    SER = "ser"


class Storage(StrEnum):
    """Spark storage levels a stage table is cached at."""

    DESERIALIZED = "MEMORY_AND_DISK"
    SERIALIZED = "MEMORY_AND_DISK_SER"


class StageInput(StrEnum):
    IMAGES = "images"
    TENSORS = "tensors"  # the previous stage's hand-over tensors
    STORED = "stored"  # a recorded layer's hand-over tensors (PhysicalPlan.resume)


class Cut(StrEnum):
    STAGED = "staged"  # one cut of a staged chain
    PREFIX = "prefix"  # the model up to one layer
    ALL = "all"  # the model up to every layer at once


# Every logical plan the optimizer weighs, in tie-break order: staged > lazy > eager, join
# before > after.
ALTERNATIVES: tuple[tuple[Strategy, JoinPlacement], ...] = tuple(
    (strategy, placement) for strategy in Strategy for placement in JoinPlacement
)
