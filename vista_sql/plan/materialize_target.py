"""Where MATERIALIZE INTO may write: checked at bind time, before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

from vista_sql.errors import VistaBindError, first_line
from vista_sql.plan.manifest import is_ours, manifest_path, read_strict

_ELSEWHERE = "choose another path or add OPTIONS (overwrite = true)"


def check_target(root: str, overwrite: bool, cnn: str, pooling: str) -> None:
    """Refuse, before anything runs, to write into a directory vista_sql did not make, one whose
    manifest cannot be read, or one holding another CNN's or pooling's features (`cnn` is the
    statement's ModelRef.identity(), `pooling` its Pooling.describe())."""
    path = Path(root)
    if path.exists() and not path.is_dir():
        raise VistaBindError(f"MATERIALIZE INTO '{root}' is a file, not a directory")
    recorded = manifest_path(root)
    foreign = path.is_dir() and any(not is_ours(p) for p in path.iterdir())
    if foreign and not recorded.exists() and not overwrite:
        raise VistaBindError(
            f"MATERIALIZE INTO '{root}': the directory holds files vista_sql did not write; "
            + _ELSEWHERE
        )
    if not recorded.exists():
        return
    try:
        layers = read_strict(root)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        # Even with overwrite: writing a layer would fail on it, after replacing its files.
        reason = "not JSON" if isinstance(error, json.JSONDecodeError) else first_line(error)
        raise VistaBindError(
            f"MATERIALIZE INTO '{root}': its manifest '{recorded}' cannot be read ({reason}); "
            "repair or remove it, or choose another path"
        ) from None
    other = next(
        (
            entry
            for entry in layers.values()
            if entry.cnn not in (None, cnn) or entry.pooling not in (None, pooling)
        ),
        None,
    )
    if other is not None and not overwrite:
        raise VistaBindError(
            f"MATERIALIZE INTO '{root}' holds features of another CNN or pooling ({other.layer}: "
            f"{other.cnn}, pooled {other.pooling}); " + _ELSEWHERE
        )
