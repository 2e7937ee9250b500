"""One vista_sql TRANSFER run, as a Spark user of vista_sql writes it: SQL only.

The plan is the optimizer's (`--plan auto`) or forced with OPTIONS (plan = ...). Per-stage
timings come from vista_sql's progress events; rows inferred per stage from `last_metrics`;
spill from the block manager's storage status, polled while the statement runs.
"""

from __future__ import annotations

import re
import time

from bench import common


def extra(parser):
    parser.add_argument("--plan", default="auto", choices=["auto", "lazy", "eager", "staged"])
    parser.add_argument("--master", default=None, help="Spark master, default local[*]")
    parser.add_argument("--conf", action="append", help="Spark conf key=value (repeatable)")
    # An ONNX export of --cnn instead of the zoo model; --layers are then its tensor names.
    parser.add_argument("--model", help="FROM MODEL '<file>' (e.g. an .onnx file)")
    parser.add_argument("--preprocess", help="OPTIONS (preprocess = ...) for --model")


def statement(args) -> str:
    options = [] if args.plan == "auto" else [f"plan = '{args.plan}'"]
    if args.model:
        source = f"MODEL '{args.model}'"
        # ONNX tensor names ("resnet50_1/avg_pool_1/...:0") are identifiers only when quoted.
        layers = ", ".join(f"`{name}`" for name in args.layers)
        options += [f"preprocess = '{args.preprocess}'"] if args.preprocess else []
    else:
        source, layers = f"{args.cnn} WEIGHTS RANDOM SEED 0", ", ".join(args.layers)
    return (
        f"TRANSFER FEATURES FROM {source}\n"
        f"  LAYERS ({layers})\n"
        "  ON images AS i (id, content) JOIN products AS p USING (id)\n"
        f"  TRAIN logistic_regression (LABEL label, max_iter = {common.MAX_ITER}, "
        f"reg_param = {common.REG_PARAM}, elastic_net = {common.ELASTIC_NET})\n"
        f"  EVALUATE SPLIT {common.SPLIT}"
        + (f"\n  OPTIONS ({', '.join(options)})" if options else "")
    )


def main() -> None:
    args = common.child_args(__doc__.splitlines()[0], extra)
    phases = common.Phases()
    text = statement(args)
    phases.facts.update(
        statement=text, plan_requested=args.plan, conf=args.conf or [], model=args.model
    )
    try:
        with phases.phase("start spark + vista_sql"):
            from vista_sql import VistaSession
            from vista_sql.execution import events

            vista = VistaSession(
                master=args.master, conf=common.spark_conf_pairs(args.conf) or None
            )
        images = (args.data / "images").resolve()
        vista.sql(
            f"CREATE OR REPLACE TEMPORARY VIEW files USING binaryFile "
            f"OPTIONS (path '{images}', pathGlobFilter '*.jpg');\n"
            "CREATE OR REPLACE TEMPORARY VIEW images AS SELECT "
            "CAST(regexp_extract(path, '([0-9]+)[.]jpg$', 1) AS INT) AS id, content FROM files;\n"
            "CREATE OR REPLACE TEMPORARY VIEW products USING parquet "
            f"OPTIONS (path '{(args.data / 'table.parquet').resolve()}')"
        )
        stage_times: dict[int, dict] = {}

        def on_event(event):
            entry = stage_times.setdefault(event.index, {"layer": event.layer})
            entry[event.kind] = time.perf_counter()

        unsubscribe = events.subscribe(on_event)
        with common.StorageWatcher(vista.spark) as storage:
            with phases.phase("transfer (all stages + training)"):
                rows = vista.sql(text).collect()
        unsubscribe()
        inferred = vista.last_metrics.get("inferred", {})
        for index, entry in sorted(stage_times.items()):
            reads, count = inferred.get(index, (None, None))
            if "finished" in entry:
                phases.add(
                    f"stage {index} cnn: {entry['layer']}",
                    entry["finished"] - entry["started"],
                    images=count,
                    reads=reads,
                )
        phases.facts.update(storage.facts())
        results = [r.asDict() for r in rows]
        # After the run (and outside the measured statement): which plan the optimizer chose.
        with phases.phase("EXPLAIN (bookkeeping, not part of the workload)", bookkeeping=True):
            explained = vista.sql("EXPLAIN " + text).collect()[0][0]
        phases.facts["explain"] = explained
        found = re.search(r"strategy: (staged|lazy|eager)", explained)
        phases.facts["strategy"] = found.group(1) if found else None
        vista.spark.stop()
    except Exception as error:
        common.fail(args.out, error, phases)
    phases.write(
        args.out,
        status="finish",
        images=sum(1 for _ in (args.data / "images").glob("*.jpg")),
        results=results,
        inferred={str(k): v for k, v in inferred.items()},
    )


if __name__ == "__main__":
    main()
