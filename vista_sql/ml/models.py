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
    defaults: tuple[tuple[str, object], ...] = ()  # snake_case name → value, before the user's
    aliases: tuple[tuple[str, str], ...] = ()
    binary_only: bool = False  # MLlib's LinearSVC and GBTClassifier take two classes only

    def estimator_class(self):
        module, _, cls = self.estimator.rpartition(".")
        return getattr(importlib.import_module(module), cls)


_C, _R = "pyspark.ml.classification.", "pyspark.ml.regression."
_ITER = (("max_iter", 10),)
_ELASTIC = (("reg_param", 0.01), ("elastic_net_param", 0.5))
_ALIASES = (("elastic_net", "elastic_net_param"),)

LEARNERS: dict[str, Learner] = {
    learner.name: learner
    for learner in (
        # Vista's downstream model: 10 iterations, light elastic-net regularisation.
        Learner(
            "logistic_regression",
            _C + "LogisticRegression",
            "classification",
            _ITER + _ELASTIC,
            _ALIASES,
        ),
        Learner("linear_svc", _C + "LinearSVC", "classification", _ITER, binary_only=True),
        Learner("decision_tree", _C + "DecisionTreeClassifier", "classification"),
        Learner(
            "random_forest",
            _C + "RandomForestClassifier",
            "classification",
            (("num_trees", 20), ("seed", 42)),
        ),
        Learner(
            "gbt", _C + "GBTClassifier", "classification", _ITER + (("seed", 42),), binary_only=True
        ),
        # The hidden layer's width; input and output widths come from the data.
        Learner(
            "mlp",
            _C + "MultilayerPerceptronClassifier",
            "classification",
            (("max_iter", 50), ("seed", 42)),
        ),
        # Gaussian: conv features and standardised columns are not counts.
        Learner("naive_bayes", _C + "NaiveBayes", "classification", (("model_type", "gaussian"),)),
        # Fitted by PySpark, scored by the JVM (vista_sql/ml/one_vs_rest.py).
        Learner("one_vs_rest", "vista_sql.ml.one_vs_rest.OneVsRest", "classification"),
        Learner(
            "linear_regression", _R + "LinearRegression", "regression", _ITER + _ELASTIC, _ALIASES
        ),
        Learner("decision_tree_regressor", _R + "DecisionTreeRegressor", "regression"),
        Learner(
            "random_forest_regressor",
            _R + "RandomForestRegressor",
            "regression",
            (("num_trees", 20), ("seed", 42)),
        ),
        Learner("gbt_regressor", _R + "GBTRegressor", "regression", _ITER + (("seed", 42),)),
    )
}
MLP_HIDDEN = 32

# Columns the training pipeline wires itself; a user setting them would break it.
_RESERVED = {
    "layers",  # mlp: built from the feature width, MLP_HIDDEN and the number of classes
    "classifier",  # one_vs_rest: logistic regression
    "features_col",
    "label_col",
    "prediction_col",
    "raw_prediction_col",
    "probability_col",
    "weight_col",
}


class Grid(tuple):
    """The values `param IN (a, b, ...)` asks cross-validation to try."""


def describe(learner: Learner) -> list[tuple[str, str, str]]:
    """(snake_case name, default, doc) for every parameter the TRAIN clause may set."""
    estimator = learner.estimator_class()()
    defaults = {snake(k): v for k, v in learner.defaults}
    rows = []
    for param in estimator.params:
        name = snake(param.name)
        if name in _RESERVED:
            continue
        value = defaults.get(
            name, estimator.getOrDefault(param) if estimator.hasDefault(param) else None
        )
        rows.append((name, "" if value is None else str(value), param.doc))
    return rows


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
            if isinstance(value, Grid):
                resolved[param.name] = Grid(param.typeConverter(v) for v in value)
            else:
                resolved[param.name] = param.typeConverter(value)
        except (TypeError, ValueError):
            raise VistaBindError(
                f"parameter '{name}' of {learner.name} cannot be {value!r}: {param.doc}"
            ) from None
    return tuple(resolved.items())
