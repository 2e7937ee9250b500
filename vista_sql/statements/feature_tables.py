"""REFRESH FEATURES and SHOW FEATURE TABLES: the tables MATERIALIZE INTO TABLE keeps in
vista.features.dir (plan/feature_tables.py), found by name from any session."""

from __future__ import annotations

import sqlglot

from vista_sql.dialect import nodes
from vista_sql.errors import VistaBindError
from vista_sql.execution.feature_tables import features_dir
from vista_sql.plan import feature_tables
from vista_sql.plan.manifest import Manifest
from vista_sql.plan.values import position
from vista_sql.statements import transfer
from vista_sql.statements.context import Context, Outcome

SHOW_SCHEMA = "name string, cnn string, layers string, rows long, last_refresh string, path string"
# Per layer: what the refresh did ('refreshed': only the new and changed images inferred;
# 'loaded': kept as it was; 'computed': every image inferred) and what it found changed.
REFRESH_SCHEMA = (
    "layer string, rows long, action string, new long, changed long, removed long, "
    "inferred long, seconds double"
)


def handle_refresh(context: Context, tree: nodes.RefreshFeatures) -> Outcome:
    """Extract again the features of the TRANSFER that wrote the table, training nothing: the
    cost model refreshes what it can. The REFRESH's OPTIONS override the statement's."""
    try:
        name = feature_tables.name_of(tree.this)
    except VistaBindError as error:
        raise error.at(*position(tree.this.this)) from None
    path = feature_tables.table_path(features_dir(context.spark), name)
    try:
        info = feature_tables.read_info(path)
    except (OSError, ValueError, KeyError) as error:
        reason = "none is there" if isinstance(error, FileNotFoundError) else f"{error}"
        raise VistaBindError(
            f"no feature table '{name}' to refresh in {path.parent} ({reason}); "
            "SHOW FEATURE TABLES lists them",
            *position(tree.this.args.get("db") or tree.this.this),
        ) from None
    statement = sqlglot.parse_one(info.statement, read="vista")
    overrides = {option.this.name.lower(): option for option in tree.args.get("options") or []}
    if overrides:
        kept = [
            o for o in statement.args.get("options") or [] if o.this.name.lower() not in overrides
        ]
        statement.set("options", [*kept, *overrides.values()])
    result, plans = transfer.run_statement(context, statement, False, info.statement)
    labels = list(result.runs)
    rows = [
        (*([label] if len(plans) > 1 else []), *row)
        for label, plan in zip(labels, plans, strict=True)
        for row in _refreshed_rows(plan, result.runs[label])
    ]
    schema = ("cnn string, " if len(plans) > 1 else "") + REFRESH_SCHEMA
    return Outcome(context.spark.createDataFrame(rows, schema), result.metrics())


def _refreshed_rows(plan, run) -> list[tuple]:
    """REFRESH_SCHEMA rows of one CNN's run: its written rows beside what its plan decided."""
    records = {r.layer.name: r for r in plan.recorded if r.problem is None}
    stage_of = {layer.name: stage.index for stage in plan.stages for layer in stage.layers}
    rows = []
    for layer, written, seconds in run.rows:
        record = records.get(layer)
        changes = (
            (record.new, record.changed, record.removed)
            if record and record.versioned
            else (None,) * 3
        )
        if record is not None and record.loaded:
            action, inferred = "loaded", 0
        else:
            action = "refreshed" if record is not None and record.refreshed else "computed"
            inferred = run.inferred.get(stage_of[layer], (None, None))[1]
        rows.append((layer, written, action, *changes, inferred, seconds))
    return rows


def handle_show(context: Context, tree: nodes.ShowFeatureTables) -> Outcome:
    rows = []
    for name, path in feature_tables.find(features_dir(context.spark)):
        try:
            info = feature_tables.read_info(path)
        except (OSError, ValueError, KeyError):
            continue  # being written, or not ours: nothing to show
        entries = [
            entry
            for _, target in feature_tables.targets(path, info)
            for entry in Manifest.read(str(target)).layers.values()
        ]
        cnns = sorted({entry.cnn or "" for entry in entries})
        layers = list(dict.fromkeys(entry.layer for entry in entries))
        rows.append(
            (
                name,
                ", ".join(cnns),
                ", ".join(layers),
                max((entry.rows for entry in entries), default=0),
                max((entry.written_at for entry in entries), default=""),
                str(path),
            )
        )
    return Outcome(context.spark.createDataFrame(rows, SHOW_SCHEMA))
