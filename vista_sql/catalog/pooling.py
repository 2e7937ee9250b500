"""Turning a layer's output into a fixed-length feature vector (Vista's g_l)."""

from __future__ import annotations

import math

import numpy as np

DEFAULT_GRID = 2


def _bounds(size: int, cells: int) -> list[tuple[int, int]]:
    # Adaptive pooling windows: cell i covers [floor(i*n/k), ceil((i+1)*n/k)), so every position
    # is covered and windows overlap by at most one when n is not a multiple of k.
    return [(i * size // cells, math.ceil((i + 1) * size / cells)) for i in range(cells)]


def pooled_dim(shape: tuple[int, ...], grid: int = DEFAULT_GRID) -> int:
    """Feature length for a layer output of `shape` (without the batch axis)."""
    if len(shape) == 3:
        height, width, depth = shape
        return min(grid, height) * min(grid, width) * depth
    return int(np.prod(shape))


def max_pool_grid(batch: np.ndarray, grid: int = DEFAULT_GRID) -> np.ndarray:
    """(n, h, w, c) → (n, gh*gw*c) by max over a grid of cells; other ranks are flattened."""
    if batch.ndim != 4:
        return batch.reshape(batch.shape[0], -1).astype(np.float32, copy=False)
    _, height, width, _ = batch.shape
    cells = [
        batch[:, r0:r1, c0:c1, :].max(axis=(1, 2))
        for r0, r1 in _bounds(height, min(grid, height))
        for c0, c1 in _bounds(width, min(grid, width))
    ]
    return np.stack(cells, axis=1).reshape(batch.shape[0], -1).astype(np.float32, copy=False)
