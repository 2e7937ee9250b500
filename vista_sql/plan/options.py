"""OPTIONS (...) of our statements: the known names, their types and allowed values."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vista_sql.catalog.models import PREPROCESS_MODES
from vista_sql.dialect import nodes
from vista_sql.errors import VistaBindError, did_you_mean
from vista_sql.plan.values import literal_value, position
from vista_sql.plan.vocabulary import Join, JoinPlacement, Persist, Strategy


@dataclass(frozen=True)
class OptionSpec:
    kind: type
    accepts: Callable[[object], bool]
    expected: str


def _positive(value) -> bool:
    return value >= 1


def _one_of(*values: str) -> OptionSpec:
    return OptionSpec(str, lambda v: v in values, "one of " + ", ".join(f"'{v}'" for v in values))


TRANSFER_OPTIONS: dict[str, OptionSpec] = {
    # Hints that override the optimizer.
    "plan": _one_of(Strategy.LAZY, Strategy.EAGER, Strategy.STAGED),
    "join_placement": _one_of(*JoinPlacement),
    "join": _one_of(*Join),
    "persist": _one_of(Persist.SER, Persist.DESER),
    "parallelism": OptionSpec(int, _positive, "a positive integer"),
    # false: never load layers an earlier MATERIALIZE INTO recorded.
    "reuse": OptionSpec(bool, lambda v: True, "true or false"),
    # true: refresh recorded layers whatever the cost model says; false: never refresh.
    "refresh": OptionSpec(bool, lambda v: True, "true or false"),
    # Execution settings.
    "on_error": _one_of("skip", "fail"),
    "overwrite": OptionSpec(bool, lambda v: True, "true or false"),
    # SAVE BEST AS: the cheapest layer within the best score's interval, or the strictly best.
    "select": _one_of("cheapest", "best"),
    "seed": OptionSpec(int, lambda v: v >= 0, "a non-negative integer"),
    "batch_size": OptionSpec(int, _positive, "a positive integer"),
    "partitions": OptionSpec(int, _positive, "a positive integer"),
    "unsafe_deserialization": OptionSpec(bool, lambda v: True, "true or false"),
    "preprocess": OptionSpec(
        str, lambda v: v in PREPROCESS_MODES, f"one of {', '.join(PREPROCESS_MODES)}"
    ),
}
MODEL_OPTIONS = ("unsafe_deserialization", "preprocess")


def read(given: Iterable[nodes.OptionEQ], allowed: Iterable[str]) -> dict[str, object]:
    known = {name: TRANSFER_OPTIONS[name] for name in allowed}
    options: dict[str, object] = {}
    for option in given:
        name = option.this.name.lower()
        line, col = position(option.this)
        spec = known.get(name)
        if spec is None:
            raise VistaBindError(
                f"unknown option '{option.this.name}'{did_you_mean(name, known)}", line, col
            )
        value = literal_value(option.expression)
        if spec.kind is str and isinstance(value, str):
            value = value.lower()
        # bool is an int in Python; an integer option must not accept TRUE.
        typed = isinstance(value, spec.kind) and (spec.kind is bool) == isinstance(value, bool)
        if not typed or not spec.accepts(value):
            raise VistaBindError(
                f"option '{name}' must be {spec.expected}, not {value!r}", line, col
            )
        options[name] = value
    return options
