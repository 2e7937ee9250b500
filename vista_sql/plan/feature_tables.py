"""Feature tables by name: where `MATERIALIZE INTO TABLE name` keeps its target, and what it notes
there so that `REFRESH FEATURES name` and `SHOW FEATURE TABLES` work from any later process.

A table `name` (or `db.name`) is the MATERIALIZE INTO target `<vista.features.dir>/name` (or
`.../db/name`), an ordinary target (plan/manifest.py) plus `_vista_table.json`: the table's name,
the TRANSFER that wrote it (as vista_sql prints it back) and, when several CNNs ran, their labels
(one target per CNN below it). `vista.features.dir` defaults to `vista_features/` under the
current directory, as Spark's `spark-warehouse/` does.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from vista_sql.errors import VistaBindError
from vista_sql.plan.manifest import TABLE_INFO as INFO
from vista_sql.plan.values import position

FEATURES_DIR_CONF = "vista.features.dir"
DEFAULT_DIR = "vista_features"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class TableInfo:
    name: str  # "name" or "db.name", lower case
    statement: str  # the TRANSFER that wrote it
    cnns: tuple[str, ...] = ()  # labels of the CNNs (their targets' directory names), if several


def features_dir(configured: str | None) -> Path:
    return Path(configured or DEFAULT_DIR).resolve()


def name_of(table: exp.Table) -> str:
    """`db.name` or `name`, lower case; each part a plain identifier (they become directories)."""
    parts = [part for part in (table.db, table.name) if part]
    for part in parts:
        if not _NAME.match(part):
            raise VistaBindError(
                f"feature table name '{part}' must be letters, digits and '_' (not starting with "
                "a digit)"
            )
    return ".".join(part.lower() for part in parts)


def target_of(materialize: exp.Expr | None, conf: Callable[[str], str | None]):
    """(table name, target directory) of `MATERIALIZE INTO 'dir' | TABLE name` (or neither);
    `conf` reads the session's settings (only a table needs vista.features.dir)."""
    if materialize is None:
        return None, None
    if not isinstance(materialize, exp.Table):
        return None, materialize.name
    try:
        name = name_of(materialize)
    except VistaBindError as error:
        raise error.at(*position(materialize.this)) from None
    return name, str(table_path(features_dir(conf(FEATURES_DIR_CONF)), name))


def table_path(root: Path, name: str) -> Path:
    return root.joinpath(*name.split("."))


def write_info(path: Path, info: TableInfo) -> None:
    """Note what wrote the table, replacing the file atomically."""
    target = path / INFO
    staging = path / f"{INFO}.tmp-{uuid.uuid4().hex[:8]}"
    data = {"name": info.name, "statement": info.statement, "cnns": list(info.cnns)}
    staging.write_text(json.dumps(data, indent=2))
    os.replace(staging, target)


def read_info(path: Path) -> TableInfo:
    data = json.loads((path / INFO).read_text())
    return TableInfo(data["name"], data["statement"], tuple(data.get("cnns") or ()))


def find(root: Path) -> list[tuple[str, Path]]:
    """(name, path) of every feature table under `root`: `name/` and `db/name/`."""
    found = []
    for info in sorted([*root.glob(f"*/{INFO}"), *root.glob(f"*/*/{INFO}")]):
        relative = info.parent.relative_to(root).parts
        found.append((".".join(relative), info.parent))
    return found


def targets(path: Path, info: TableInfo) -> list[tuple[str | None, Path]]:
    """(CNN label or None, MATERIALIZE target) of each CNN the table holds."""
    if not info.cnns:
        return [(None, path)]
    return [(label, path / label) for label in info.cnns]
