"""Turning a layer's output into a fixed-length feature vector (Vista's g_l).

POOL MAX g (the default, g = 2 as in Vista) and POOL AVG g reduce an (h, w, c) map to a g×g×c
grid; POOL NONE flattens. Outputs that are already vectors are used as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pooling:
    mode: str = "max"  # "max" | "avg" | "none"
    grid: int = 2

    def describe(self) -> str:
        return "none (flatten)" if self.mode == "none" else f"{self.mode} {self.grid}x{self.grid}"


DEFAULT = Pooling()


def _bounds(size: int, cells: int) -> list[tuple[int, int]]:
    # Adaptive pooling windows: cell i covers [floor(i*n/k), ceil((i+1)*n/k)), so every position
    # is covered and windows overlap by at most one when n is not a multiple of k.
    return [(i * size // cells, math.ceil((i + 1) * size / cells)) for i in range(cells)]


def pooled_dim(shape: tuple[int, ...], pooling: Pooling = DEFAULT) -> int:
    """Feature length for a layer output of `shape` (without the batch axis)."""
    if len(shape) == 3 and pooling.mode != "none":
        height, width, depth = shape
        return min(pooling.grid, height) * min(pooling.grid, width) * depth
    return int(np.prod(shape))


def pool(batch: np.ndarray, pooling: Pooling = DEFAULT) -> np.ndarray:
    """(n, h, w, c) → (n, features) as `pooling` says; other ranks are flattened."""
    if batch.ndim != 4 or pooling.mode == "none":
        return batch.reshape(batch.shape[0], -1).astype(np.float32, copy=False)
    _, height, width, _ = batch.shape
    reduce = np.max if pooling.mode == "max" else np.mean
    cells = [
        reduce(batch[:, r0:r1, c0:c1, :], axis=(1, 2))
        for r0, r1 in _bounds(height, min(pooling.grid, height))
        for c0, c1 in _bounds(width, min(pooling.grid, width))
    ]
    return np.stack(cells, axis=1).reshape(batch.shape[0], -1).astype(np.float32, copy=False)
