"""The warm series (issue #19 item 1): one session, three TRANSFERs people type one after another,
against the single-machine script doing the same work.

    python -m bench.warm [--n 1000] [--cnn resnet50]     (make bench-warm)

1. top-3 layers, logistic regression (a cold session's first statement);
2. the same CNN, the two layers below those (new layers: inferred, the others not asked for);
3. the learner with other settings on statement 1's layers, which the session recorded:
   training only.

Targets: statement 2 ≤ 0.8× the single-machine script for its layers; statement 3 ≤ 10 s at
N = 1,000. The peer runs as a child process after the session's statements, on the same images,
so the two never share the cores. bench/results/warm.json keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench import common, data

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "bench" / "warm"
RESULT = ROOT / "bench" / "results" / "warm.json"


def _statement(cnn: str, layers: list[str], train: str) -> str:
    return (
        f"TRANSFER FEATURES FROM {cnn} WEIGHTS RANDOM SEED 0 LAYERS ({', '.join(layers)}) "
        "ON bench_images AS i (id, content) JOIN bench_table USING (id) "
        f"TRAIN {train}"
    )


def _timed(vista, statement: str) -> dict:
    began = time.perf_counter()
    rows = vista.sql(statement).collect()
    seconds = time.perf_counter() - began
    inferred = sum(count or 0 for _, count in vista.last_metrics["inferred"].values())
    loaded = sorted(vista.last_metrics["loaded"])
    return {"seconds": round(seconds, 1), "inferred": inferred, "loaded": loaded, "rows": len(rows)}


def _peer(source: Path, cnn: str, layers: list[str]) -> float:
    """The single-machine script (Keras predict + scikit-learn) on the same layers, timed whole
    from its process start, as a user running it would wait."""
    out = WORK / "peer.json"
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bench.peers.single_machine", "--data", str(source), "--cnn", cnn]
        + ["--layers", ",".join(layers), "--out", str(out)],
        check=True,
        cwd=ROOT,
    )
    return round(time.perf_counter() - began, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--cnn", default="resnet50", choices=sorted(common.ROSTERS))
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    source = data.build(WORK / f"data-{args.n}", args.n)
    top, below = common.top_layers(args.cnn, 3), common.top_layers(args.cnn, 5)[:2]

    from vista_sql import VistaSession

    started = time.perf_counter()
    vista = VistaSession()
    session_seconds = time.perf_counter() - started
    images = source / "images"
    vista.sql(
        f"CREATE TEMPORARY VIEW bench_files USING binaryFile OPTIONS (path '{images}', "
        "pathGlobFilter '*.jpg');"
        "CREATE TEMPORARY VIEW bench_images AS SELECT "
        "CAST(regexp_extract(path, '([0-9]+)[.]jpg$', 1) AS INT) AS id, content FROM bench_files;"
        "CREATE TEMPORARY VIEW bench_table USING parquet "
        f"OPTIONS (path '{source / 'table.parquet'}')"
    )
    series = [
        ("first: top-3 layers", top, "logistic_regression (LABEL label)"),
        ("warm: 2 new layers of the same CNN", below, "logistic_regression (LABEL label)"),
        (
            "warm: another learner on the first's layers",
            top,
            "logistic_regression (LABEL label, reg_param = 0.1)",
        ),
    ]
    results = []
    for name, layers, train in series:
        measured = _timed(vista, _statement(args.cnn, layers, train))
        results.append({"statement": name, "layers": layers, **measured})
        print(f"{name}: {measured}", flush=True)
    vista.spark.stop()
    peer_new_layers = _peer(source, args.cnn, below)
    record = {
        "cnn": args.cnn,
        "n": args.n,
        "session_seconds": round(session_seconds, 1),
        "statements": results,
        "single_machine_seconds_for_the_new_layers": peer_new_layers,
        "ratio_new_layers_vs_single_machine": round(results[1]["seconds"] / peer_new_layers, 2),
        "recorded_layers_seconds": results[2]["seconds"],
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(record, indent=1))
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
