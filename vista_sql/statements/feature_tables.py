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


def handle_refresh(context: Context, tree: nodes.RefreshFeatures) -> Outcome:
    """Run again the TRANSFER that wrote the table: the cost model refreshes what it can."""
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
    return transfer.handle(context, statement)


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
