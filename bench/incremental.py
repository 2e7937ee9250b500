"""Incremental refresh: a feature table on N images gains 1 %, 10 % and 50 % new images; each time
`REFRESH FEATURES` (only the new images inferred) is timed against extracting every image from
scratch (`REFRESH FEATURES ... OPTIONS (reuse = false)`), both training nothing.

    python -m bench.incremental [--n 1000] [--cnn resnet50]     (make bench-incremental)

One process, one session: each pair runs back to back on the same data, refresh first, so a
steady drift in the machine's load moves both alike. The table (bench/results/incremental.json
and the lines printed) gives both times and their ratio; the target is a +1 % refresh within 10 %
of the from-scratch time, i.e. close to the extraction's fixed cost.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from bench import common, data

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "bench" / "incremental"
RESULT = ROOT / "bench" / "results" / "incremental.json"
STEPS = (0.01, 0.10, 0.50)


def _statement(cnn: str) -> str:
    layers = ", ".join(common.top_layers(cnn, 3))
    return (
        f"TRANSFER FEATURES FROM {cnn} WEIGHTS RANDOM SEED 0 LAYERS ({layers}) "
        "ON bench_images AS i (id, content) JOIN bench_table USING (id) "
        "TRAIN logistic_regression (LABEL label) MATERIALIZE INTO TABLE bench_features"
    )


def _timed(vista, statement: str) -> tuple[float, list[int]]:
    began = time.perf_counter()
    vista.sql(statement).collect()
    inferred = [count for _, count in sorted(vista.last_metrics["inferred"].values())]
    return time.perf_counter() - began, inferred


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--cnn", default="resnet50", choices=sorted(common.ROSTERS))
    args = parser.parse_args()
    total = int(args.n * (1 + sum(STEPS))) + 1
    source = data.build(WORK / f"data-{total}", total)
    folder = WORK / "images"
    shutil.rmtree(WORK / "targets", ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    pool = [path for _, path in common.image_paths(source)]
    shown = 0

    def add(count: int) -> None:
        nonlocal shown
        for path in pool[shown : shown + count]:
            shutil.copy(path, folder)
        shown += count

    from vista_sql import VistaSession

    vista = VistaSession()
    vista.sql(
        f"CREATE TEMPORARY VIEW bench_files USING binaryFile OPTIONS (path '{folder}', "
        "pathGlobFilter '*.jpg');"
        "CREATE TEMPORARY VIEW bench_images AS SELECT "
        "CAST(regexp_extract(path, '([0-9]+)[.]jpg$', 1) AS INT) AS id, content FROM bench_files;"
        "CREATE TEMPORARY VIEW bench_table USING parquet "
        f"OPTIONS (path '{source / 'table.parquet'}');"
        f"SET vista.features.dir = {WORK / 'targets'}"
    )
    add(args.n)
    first, _ = _timed(vista, _statement(args.cnn))
    print(f"the TRANSFER that made the table, {shown} images: {first:.1f} s", flush=True)
    rows = []
    for step in STEPS:
        new = max(1, round(step * shown))
        add(new)
        refreshed, inferred = _timed(vista, "REFRESH FEATURES bench_features")
        scratch, _ = _timed(vista, "REFRESH FEATURES bench_features OPTIONS (reuse = false)")
        rows.append(
            {
                "images": shown,
                "new": new,
                "inferred_per_stage": inferred,
                "refresh_seconds": round(refreshed, 1),
                "scratch_seconds": round(scratch, 1),
                "ratio": round(refreshed / scratch, 3),
            }
        )
        print(
            f"+{step:.0%} ({new} new, {shown} in all): refresh {refreshed:.1f} s (inferred "
            f"{inferred}) vs from scratch {scratch:.1f} s = {refreshed / scratch:.2f}",
            flush=True,
        )
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    record = {"cnn": args.cnn, "n": args.n, "transfer_seconds": round(first, 1), "steps": rows}
    RESULT.write_text(json.dumps(record, indent=1))
    vista.spark.stop()


if __name__ == "__main__":
    main()
