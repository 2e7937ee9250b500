"""Where vista_sql keeps what a process derives once and the next one reuses (CNN graphs, the
JVM's class-data archive): `$VISTA_SQL_CACHE`, or `~/.cache/vista_sql`."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "VISTA_SQL_CACHE"


def directory(kind: str) -> Path:
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "vista_sql"
    return Path(root) / kind
