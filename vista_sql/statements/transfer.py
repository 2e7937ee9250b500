"""TRANSFER with one CNN or several: a plan per CNN, one result table, SAVE BEST AS.

Comparing CNNs is a grid over the CNN (sparkdl's use case): each CNN's stages are planned by the
optimizer on their own, run one CNN after another (so only one CNN's stage is cached at a time),
and the structured-only baseline, identical for every CNN, is trained once. With several CNNs
the result gains a first column `cnn` (NULL on the baseline row); with one it keeps its columns.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from dataclasses import dataclass

from vista_sql.dialect import nodes
from vista_sql.errors import VistaError, VistaExecutionError
from vista_sql.execution import (
    checks,
    feature_tables,
    image_versions,
    materialize,
    results,
    runner,
    session_records,
)
from vista_sql.ml import saved
from vista_sql.optimizer import planner
from vista_sql.plan.binder import cnn_labels
from vista_sql.plan.feature_tables import TableInfo
from vista_sql.plan.values import position
from vista_sql.spark import failures
from vista_sql.statements import explain, facts
from vista_sql.statements.context import Context, Outcome

log = logging.getLogger("vista_sql")

# Numbers each plan's stage tables and job groups, unique within the process.
_statement_ids = itertools.count(1)


def plan_all(spark, queries, train: bool = True) -> tuple[list, checks.Counts]:
    """A plan per CNN: what the session holds (facts.gather), then the optimizer on those values;
    and the joined rows' counts, which do not depend on the CNN (counted once, for the first).
    An extraction (`train=False`) reads neither the label's classes nor its statistics."""
    plans, counts = [], None
    if train and queries[0].classes == ():  # the CNNs share the label and its joined rows
        with failures.during("reading the label's classes"):
            names = checks.classes(spark, queries[0])
        queries = [dataclasses.replace(q, classes=names) for q in queries]
    for query in queries:
        found = facts.gather(spark, query, counts, labels=train)
        counts = found.counts
        plans.append(planner.plan(query, **found.arguments()))
    return plans, counts


def render(plans, statement_ids, with_cost: bool) -> str:
    if len(plans) == 1:
        return explain.render(plans[0], statement_ids[0], with_cost=with_cost)
    labels = cnn_labels([p.query for p in plans])
    parts = [
        f"==== cnn {label} ({i + 1} of {len(plans)}) ====\n"
        + explain.render(plan, sid, with_cost=with_cost)
        for i, (label, plan, sid) in enumerate(zip(labels, plans, statement_ids, strict=True))
    ]
    return "\n\n".join(parts)


@dataclass(frozen=True)
class TransferResult:
    """The statement's result table and, per CNN label, what its run measured."""

    frame: object
    runs: dict[str, runner.RunResult]

    def metrics(self) -> dict:
        """Rows inferred per stage and layers loaded: the last CNN's, and under `per_cnn` each's."""
        last = list(self.runs.values())[-1].metrics() if self.runs else {}
        return {**last, "per_cnn": {label: r.metrics() for label, r in self.runs.items()}}


def run(
    spark, plans, statement_ids, save_as: str | None, counts: checks.Counts, train: bool = True
) -> TransferResult:
    """Each CNN's plan in turn; `train=False` extracts only (REFRESH FEATURES)."""
    labels = cnn_labels([p.query for p in plans])
    q = plans[0].query
    rule = str(dict(q.options).get("select", "cheapest"))
    best = saved.Best(q.metrics[0], rule) if save_as and train else None
    runs: dict[str, runner.RunResult] = {}
    for i, (label, plan, sid) in enumerate(zip(labels, plans, statement_ids, strict=True)):

        def keep(layer, result, label=label, query=plan.query):
            best.offer(saved.Candidate(label, query, layer, result))

        on_model = keep if best is not None else None
        # The first CNN's run trains the baseline; the others compare with that fit.
        baseline = True if i == 0 else (runs[labels[0]].baseline or False)
        runs[label] = runner.run(
            spark, plan, sid, counts, baseline=baseline, on_model=on_model, train=train
        )
    if best is not None:
        _save(spark, save_as, best)
    if train:
        results.show_held_out(spark, {label: r.held_out for label, r in runs.items()})
    if len(plans) == 1:
        return TransferResult(runs[labels[0]].frame, runs)
    rows = []
    for i, label in enumerate(labels):
        for row in runs[label].rows:
            baseline = i == 0 and row[0] == runner.BASELINE
            rows.append((None if baseline else label, *row))
    schema = runner.result_schema(plans[0].query) if train else runner.EXTRACTION_SCHEMA
    return TransferResult(spark.createDataFrame(rows, "cnn string, " + schema), runs)


def handle(context: Context, tree: nodes.TransferFeatures) -> Outcome:
    """TRANSFER: bind, plan each CNN, check the rows, run; SAVE BEST AS refuses a taken name
    before anything runs."""
    began = time.perf_counter()
    result, _ = run_statement(context, tree)
    # Rows count what each layer cost (results.py); what the statement took is said once.
    elapsed = round(time.perf_counter() - began, 2)
    return Outcome(result.frame, {**result.metrics(), "seconds": elapsed})


def run_statement(
    context: Context, tree: nodes.TransferFeatures, train: bool = True, as_written: str = ""
):
    """(TransferResult, plans) of a TRANSFER; `train=False` only writes its MATERIALIZE INTO.
    A feature table it writes records `as_written`, or else the statement itself."""
    spark = context.spark
    queries = [session_records.applied(spark, q) for q in context.binder.bind_all(tree)]
    save_as = tree.args.get("save_as") if train else None
    if save_as is not None:
        try:
            overwrite = bool(dict(queries[0].options).get("overwrite", False))
            saved.check_free(spark, save_as.name, overwrite)
        except VistaError as error:
            raise error.at(*position(save_as)) from None
    statement_ids = [next(_statement_ids) for _ in queries]
    # Held from before the manifests are read: a second statement writing a target meanwhile
    # would plan from what the first is replacing.
    with (
        materialize.locked(q.materialize for q in queries if q.materialize),
        image_versions.held(),
    ):
        plans, counts = plan_all(spark, queries, train)
        with failures.during("the checks before inference"):
            checks.before_run(spark, plans[0], counts, train)  # the CNNs share the joined rows
        name = save_as.name if save_as is not None else None
        # The run names its stages and fits itself; this names what falls between them.
        with failures.during("the TRANSFER"):
            result = run(spark, plans, statement_ids, name, counts, train)
        if queries[0].feature_table is not None:
            labels = tuple(cnn_labels(queries)) if len(queries) > 1 else ()
            info = TableInfo(
                queries[0].feature_table, as_written or tree.sql(dialect="vista"), labels
            )
            feature_tables.publish(spark, info)
        for q in queries:
            if q.materialize:  # only now: until the views above were replaced they named them
                materialize.sweep_versions(q.materialize, [layer.name for layer in q.layers])
    records = {q.materialize for q in queries if q.session_record}
    if records:
        session_records.evict(spark, keep=records)
    return result, plans


def handle_explain(context: Context, tree: nodes.ExplainTransfer) -> Outcome:
    """EXPLAIN [COST] TRANSFER: the plans as text, nothing run."""
    spark = context.spark
    queries = [session_records.applied(spark, q) for q in context.binder.bind_all(tree.this)]
    statement_ids = [next(_statement_ids) for _ in queries]
    plans, _ = plan_all(spark, queries)
    text = render(plans, statement_ids, with_cost=bool(tree.args.get("cost")))
    if any(q.session_record for q in queries):
        used, limit = session_records.usage(spark)
        text += (
            f"\n== session records ==\n{session_records.root(spark)}: {used / 1e6:,.1f} MB of "
            f"{limit / 1e6:,.1f} MB (vista.session.records.quota); a statement without "
            "MATERIALIZE INTO keeps its features there for later statements"
        )
    return Outcome(spark.createDataFrame([(text,)], "plan string"))


def _save(spark, name: str, best: saved.Best) -> None:
    chosen, selection = best.choose()
    if chosen is None:
        raise VistaExecutionError(
            f"SAVE BEST AS {name}: no layer has a {best.metric} score (see the result's warnings);"
            " nothing was saved"
        )
    if selection and selection.get("reason"):
        log.warning("%s", selection["reason"])
    saved.save(spark, name, chosen, selection)
