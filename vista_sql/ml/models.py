"""Downstream learners the TRAIN clause can name, with parameters checked against MLlib's own."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from vista_sql.errors import VistaBindError, did_you_mean, find_named


@dataclass(frozen=True)
class Learner:
    name: str
    estimator: str  # dotted path of the MLlib estimator class
    task: str  # "classification" | "regression"
    defaults: tuple[tuple[str, object], ...]  # snake_case name → value, before user parameters
    aliases: tuple[tuple[str, str], ...] = ()

    def estimator_class(self):
        module, _, cls = self.estimator.rpartition(".")
        return getattr(importlib.import_module(module), cls)


LEARNERS: dict[str, Learner] = {
    learner.name: learner
    for learner in (
        Learner(
            name="logistic_regression",
            estimator="pyspark.ml.classification.LogisticRegression",
            task="classification",
            # Vista's downstream model: 10 iterations, light elastic-net regularisation.
            defaults=(("max_iter", 10), ("reg_param", 0.01), ("elastic_net_param", 0.5)),
            aliases=(("elastic_net", "elastic_net_param"),),
        ),
    )
}

# Columns the training pipeline wires itself; a user setting them would break it.
_RESERVED = {
    "features_col",
    "label_col",
    "prediction_col",
    "raw_prediction_col",
    "probability_col",
    "weight_col",
}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def lookup(name: str) -> Learner:
    return find_named(LEARNERS, name, "model")


def resolve_params(
    learner: Learner, given: list[tuple[str, object]]
) -> tuple[tuple[str, object], ...]:
    """MLlib parameter names (camelCase) with values converted by MLlib's own type converters."""
    estimator = learner.estimator_class()()
    by_snake = {snake(p.name): p for p in estimator.params if snake(p.name) not in _RESERVED}
    aliases = dict(learner.aliases)
    resolved: dict[str, object] = {}
    for name, value in [*learner.defaults, *given]:
        key = aliases.get(name.lower(), name.lower())
        param = by_snake.get(key)
        if param is None:
            raise VistaBindError(
                f"unknown parameter '{name}' for {learner.name}{did_you_mean(name, by_snake)}"
            )
        try:
            resolved[param.name] = param.typeConverter(value)
        except (TypeError, ValueError):
            raise VistaBindError(
                f"parameter '{name}' of {learner.name} cannot be {value!r}: {param.doc}"
            ) from None
    return tuple(resolved.items())
