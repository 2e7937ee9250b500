"""Where a run's Python time goes: py-spy samples of its processes, summarised by category.

`bench/measure.py` starts `py-spy record --format raw` on every Python process of a measured tree
(the driver child and each PySpark worker) when `--profile` is given; this module reads those
collapsed stacks and attributes each sample to the first category found walking from the leaf
frame up. TensorFlow's own threads are native and not sampled: their work shows as the Python
frame that waits on them (Keras `predict_on_batch` / `predict`).
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

# Checked leaf → root: the first frame that matches decides the sample's category.
CATEGORIES = (
    ("image decode (Pillow)", ("decode (", "PIL/", "draft (", "convert (", "resize (")),
    ("pooling", ("pool (",)),
    ("CNN forward (TensorFlow)", ("predict_on_batch", "predict (", "_predict (", "call (")),
    ("tensor hand-over (bytes ↔ numpy)", ("tobytes", "frombuffer", "_inputs (")),
    ("Arrow / pandas transfer", ("pyarrow", "serializers.py", "pandas/", "arrow")),
    ("model build / TF import", ("build (", "model_for", "keras_with_threads", "import", "_load")),
    ("waiting for Spark (idle)", ("read_int", "read (socket", "readinto", "select (")),
)


def categorise(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, needles in CATEGORIES:
            if any(n in frame for n in needles):
                return name
    return "other Python"


def summarise(directory: Path) -> dict:
    """{category: samples} over every raw profile in `directory`, plus the top leaf frames."""
    totals: collections.Counter = collections.Counter()
    leaves: collections.Counter = collections.Counter()
    for file in sorted(directory.glob("*.txt")):
        for line in file.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            totals[categorise(stack)] += int(count)
            leaves[stack.split(";")[-1]] += int(count)
    return {"categories": dict(totals.most_common()), "top_frames": leaves.most_common(12)}


def render(summary: dict) -> str:
    total = sum(summary["categories"].values()) or 1
    lines = [f"{name:<36} {100 * n / total:5.1f} %" for name, n in summary["categories"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"== {arg}")
        print(render(summarise(Path(arg))))
