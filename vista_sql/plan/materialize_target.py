"""Where MATERIALIZE INTO may write: checked at bind time, before anything runs."""

from __future__ import annotations

from pathlib import Path

from vista_sql.errors import VistaBindError
from vista_sql.plan.manifest import is_temporary, manifest_path


def check_target(root: str, overwrite: bool) -> None:
    """Refuse, before anything runs, to write into a directory vista_sql did not make."""
    path = Path(root)
    if path.exists() and not path.is_dir():
        raise VistaBindError(f"MATERIALIZE INTO '{root}' is a file, not a directory")
    foreign = path.is_dir() and any(not is_temporary(p) for p in path.iterdir())
    if foreign and not manifest_path(root).exists() and not overwrite:
        raise VistaBindError(
            f"MATERIALIZE INTO '{root}': the directory holds files vista_sql did not write; "
            "choose another path or add OPTIONS (overwrite = true)"
        )
