"""The cost model, kept apart from the rules: sizes (Vista Eq. 1), memory and time per plan.

Constants are measured on the development machines (2 cores): ResNet50's 7.8 GFLOPs forward pass
runs at ≈ 22 images/s on both cores, i.e. ≈ 85 GFLOP/s per core.
"""

from __future__ import annotations

from vista_sql.catalog.roster import ALPHA
from vista_sql.plan.vocabulary import ALTERNATIVES, JoinPlacement, Strategy
from vista_sql.plan.workload import Workload

FLOPS_PER_CORE = 85e9
DECODE_SECONDS = 0.004  # per image: Pillow decode and resize
# Hand-over tensors crossing between Python and the JVM, per byte and crossing: Arrow out of the
# worker, UnsafeRows into the stage's cache, and back through Arrow to numpy in the next stage.
# bench/ measured 7-11 ns (ResNet50 conv4/conv5 hand-over stages, N = 200 and 1000, 2 shared cores).
SERDE_SECONDS_PER_BYTE = 6e-9
SERDE_MEASURED_TASKS = 2  # ...as wall time with this many tasks serializing at once
SPILL_SECONDS_PER_BYTE = 1 / 200e6  # write and read back what does not fit in storage memory
SHUFFLE_SECONDS_PER_BYTE = 1 / 300e6
READ_SECONDS_PER_BYTE = 1 / 200e6  # Parquet features written by an earlier MATERIALIZE INTO
LOAD_OVERHEAD_SECONDS = 0.5  # listing and opening that dataset: one more Spark job
# Importing TensorFlow and building the model in each Python worker (5-8 s measured by bench/):
# paid by any plan that infers at all, so the same for every plan and left out of their ranking.
INFERENCE_STARTUP_SECONDS = 5.0
KEY_BYTES = 16  # key and row header (Eq. 1's 8 + 8)


def row_bytes(floats: int, carried: int = 0) -> int:
    """Vista Eq. 1 for one row: α·(8 + 8 + 4·floats) plus what the row carries besides."""
    return int(ALPHA * (KEY_BYTES + 4 * floats)) + carried


def stage_bytes(w: Workload, strategy: Strategy, placement: JoinPlacement) -> list[int]:
    """Estimated size of each stage's cached table."""
    before = placement == JoinPlacement.BEFORE
    rows = w.rows_before if before else w.rows_after
    carried = w.structured_row_bytes if before else 0
    if strategy == Strategy.EAGER:
        return [rows * row_bytes(sum(layer.feature_dim for layer in w.layers), carried)]
    if strategy == Strategy.LAZY:
        return [rows * row_bytes(layer.feature_dim, carried) for layer in w.layers]
    return [
        rows * row_bytes(layer.feature_dim + layer.frontier_floats, carried) for layer in w.layers
    ]


def peak_storage(w: Workload, strategy: Strategy, placement: JoinPlacement) -> int:
    """Storage memory a plan holds at once: s_double for staged (two stages meet), else one."""
    sizes = stage_bytes(w, strategy, placement)
    if strategy == Strategy.STAGED and len(sizes) > 1:
        return max(a + b for a, b in zip(sizes, sizes[1:], strict=False))
    return max(sizes)


def seconds(
    w: Workload, strategy: Strategy, placement: JoinPlacement, storage: int, parallelism: int
) -> float:
    """Estimated wall time of inference, hand-over, spills and (join after) the feature shuffle."""
    rows = w.rows_before if placement == JoinPlacement.BEFORE else w.rows_after
    deepest = w.layers[-1].cumulative_flops
    if strategy == Strategy.LAZY:
        flops = sum(layer.cumulative_flops for layer in w.layers)
        decodes = len(w.layers)
    else:
        flops, decodes = deepest, 1
    decodes *= w.decoded
    busy = min(w.cores, max(1, parallelism))
    compute = rows * (flops / (FLOPS_PER_CORE * busy) + decodes * DECODE_SECONDS / busy)
    handover = 0.0
    if strategy == Strategy.STAGED:
        # Each task serializes its own rows: the hand-over is split like the compute.
        handover = rows * sum(4 * layer.frontier_floats for layer in w.layers[:-1])
        handover *= 2 * SERDE_SECONDS_PER_BYTE * SERDE_MEASURED_TASKS / busy
    spill = max(0, peak_storage(w, strategy, placement) - storage) * SPILL_SECONDS_PER_BYTE
    shuffle = 0.0
    if placement == JoinPlacement.AFTER:
        shuffle = sum(stage_bytes(w, strategy, placement)) * SHUFFLE_SECONDS_PER_BYTE
    # Every node does its share of each part: rows, spills and shuffled bytes are cluster totals.
    return (compute + handover + spill + shuffle) / max(1, w.nodes)


def load_seconds(rows: int, feature_dim: int) -> float:
    """Reading one recorded layer's features instead of computing them."""
    return LOAD_OVERHEAD_SECONDS + rows * row_bytes(feature_dim) * READ_SECONDS_PER_BYTE


def cheapest_seconds(w: Workload, storage: int, parallelism: int) -> float:
    """The best any logical plan does for `w`'s layers; nothing to compute costs nothing."""
    if not w.layers:
        return 0.0
    return INFERENCE_STARTUP_SECONDS + min(
        seconds(w, strategy, placement, storage, parallelism)
        for strategy, placement in ALTERNATIVES
    )
