"""Where a run's Python time goes: py-spy samples of its processes, summarised by category.

With `--profile`, `bench/measure.py` runs `py-spy record --idle --format raw` on every Python
process of a measured tree: the child's own process (`driver-<pid>.txt`) and every PySpark worker
(`worker-<pid>.txt`). Only main-thread stacks count (py4j, accumulator and watcher threads are
left out), idle waits included, so the shares are shares of wall-clock time. Each sample goes to
the first category found walking from the leaf frame up. TensorFlow's own threads are native:
their work shows as the Python frame that waits on them (Keras `predict_on_batch` / `predict`).
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

# Checked leaf → root: the first frame that matches decides the sample's category.
WORKER = (
    ("idle between tasks (waiting for the JVM)", ("read_int",)),
    ("image decode (Pillow)", ("decode (", "PIL/")),
    ("pooling", ("pool (",)),
    ("CNN forward (TensorFlow)", ("predict_on_batch", "predict (", "_predict (", "quick_execute")),
    ("tensor hand-over (bytes <-> numpy)", ("tobytes", "frombuffer", "_inputs (")),
    ("Arrow / pandas transfer", ("pyarrow", "serializers.py", "pandas/", "arrow", "types.py")),
    ("TF import / model build", ("model_for", "build (", "keras_with_threads", "_load_unlocked")),
)
DRIVER = (
    ("start-up (Spark, imports)", ("local_session", "getOrCreate", "_load_unlocked")),
    ("planning: statistics", ("gather (",)),
    ("planning: driver-side model", ("model_for", "workload.py")),
    ("waiting on CNN stage jobs", ("_materialize_stage", "transform (bench/peers", "count (")),
    ("waiting on training jobs", ("fit_and_score", "_fit", "evaluate", "train (")),
    ("CNN in this process (TensorFlow)", ("predict_on_batch", "predict (", "quick_execute")),
    ("image decode (Pillow)", ("decode (", "PIL/")),
)


def categorise(stack: str, categories) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, needles in categories:
            if any(n in frame for n in needles):
                return name
    return "other"


def summarise(directory: Path) -> dict:
    """{role: {category: samples}} over the raw profiles in `directory`."""
    result: dict[str, collections.Counter] = {}
    for file in sorted(directory.glob("*.txt")):
        role = "driver" if file.name.startswith("driver") else "workers"
        categories = DRIVER if role == "driver" else WORKER
        totals = result.setdefault(role, collections.Counter())
        for line in file.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit() or stack.startswith("Thread._bootstrap"):
                continue
            if "manager (daemon.py" in stack and "worker (daemon.py" not in stack:
                continue  # PySpark's daemon process, which only forks workers
            totals[categorise(stack, categories)] += int(count)
    return {role: dict(c.most_common()) for role, c in result.items()}


def render(summary: dict) -> str:
    lines = []
    for role, categories in summary.items():
        total = sum(categories.values()) or 1
        lines.append(f"{role} ({total / 20:.0f} s of samples at 20 Hz):")
        lines += [f"  {name:<40} {100 * n / total:5.1f} %" for name, n in categories.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"== {arg}")
        print(render(summarise(Path(arg))))
