"""Saved models: SAVE BEST AS keeps the winning (CNN, layer, pooling, learner) pipeline on disk.

Each model is a directory `<vista.models.dir>/<name>/` holding a Spark ML PipelineModel
(`pipeline/`: VectorAssembler + the fitted learner) and `vista_model.json` (what produced it: the
CNN with its weights, layer, pooling, structured columns in order, label, learner, parameters,
metrics, creation time). The directory is written beside its final place and renamed into it, so
another process sees a whole model or none. `vista.models.dir` defaults to `vista_models/` under
the current directory, as Spark's `spark-warehouse/` does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from vista_sql.catalog import models as cnn_models
from vista_sql.catalog import staging
from vista_sql.catalog.models import ModelRef
from vista_sql.catalog.pooling import Pooling
from vista_sql.catalog.weights import WeightsRef
from vista_sql.errors import VistaBindError, VistaExecutionError, did_you_mean
from vista_sql.ml import linear, metrics, models, uncertainty

MODELS_DIR_CONF = "vista.models.dir"
DEFAULT_DIR = "vista_models"
METADATA = "vista_model.json"
PIPELINE = "pipeline"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def models_dir(spark) -> Path:
    return Path(spark.conf.get(MODELS_DIR_CONF, DEFAULT_DIR) or DEFAULT_DIR).resolve()


def check_name(name: str) -> str:
    """Names become directory names: letters, digits and '_' only, compared lower-case."""
    if not _NAME.match(name):
        raise VistaBindError(
            f"saved model name '{name}' must be letters, digits and '_' (not starting with a digit)"
        )
    return name.lower()


@dataclass
class Candidate:
    """One trained (CNN, layer) pipeline the statement produced."""

    cnn_label: str
    query: object  # TransferQuery
    layer: object  # LayerRef
    result: object  # training.TrainingResult


SELECT_RULES = ("cheapest", "best")


class Best:
    """The candidate SAVE BEST AS keeps, by the statement's first metric (larger is better but
    for rmse and mae).

    `cheapest` (the default): the layer with the fewest FLOPs from the image among those whose
    score lies within the best score's 95 % interval. Those differences are what another
    held-out split could reverse, while the cheaper layer stays cheaper for every image the
    model is ever applied to. `best`: the strictly best score (the first of equals).
    """

    def __init__(self, metric: str, rule: str = "cheapest", flops=None):
        self.metric, self.rule = metric, rule
        self.flops = flops or layer_flops  # a candidate's FLOPs per image, input to layer
        self.larger = metrics.LARGER_IS_BETTER.get(metric, True)
        self.candidates: list[Candidate] = []

    def offer(self, candidate: Candidate) -> None:
        if (
            candidate.result.model is not None
            and candidate.result.scores.get(self.metric) is not None
        ):
            self.candidates.append(candidate)

    @property
    def best(self) -> Candidate | None:
        return self.choose()[0]

    def choose(self) -> tuple[Candidate | None, dict | None]:
        """The candidate to save and, when there was one to choose, how it was chosen."""
        if not self.candidates:
            return None, None
        sign = 1 if self.larger else -1
        strict = max(self.candidates, key=lambda c: sign * self._score(c))  # first of equals
        low, high = self._interval(strict)
        chosen = strict
        if self.rule == "cheapest" and low is not None:
            tied = [c for c in self.candidates if low <= self._score(c) <= high]
            chosen = min(tied, key=lambda c: (self.flops(c), -sign * self._score(c)))
        selection = {
            "rule": self.rule,
            "metric": self.metric,
            "best": self._described(strict, (low, high)),
            "saved": self._described(chosen, self._interval(chosen)),
        }
        if chosen is not strict:
            cheaper = 1 - self.flops(chosen) / self.flops(strict)
            selection["reason"] = (
                f"best by {self.metric}: {_shown(strict, self.metric, (low, high))}; "
                f"{_shown(chosen, self.metric, self._interval(chosen))} is within the interval "
                f"and {cheaper * 100:.0f} % cheaper: saved {chosen.layer.name}"
            )
        return chosen, selection

    def _score(self, candidate: Candidate) -> float:
        return candidate.result.scores[self.metric]

    def _described(self, candidate: Candidate, interval) -> dict:
        return {
            "cnn": candidate.cnn_label,
            "layer": candidate.layer.name,
            "score": candidate.result.scores[self.metric],
            "interval": list(interval),
            "flops": self.flops(candidate),
        }

    def _interval(self, candidate: Candidate) -> tuple[float | None, float | None]:
        held = candidate.result.held_out
        if held is None:
            return None, None
        return uncertainty.interval(self.metric, held, candidate.query.seed)


def layer_flops(candidate: Candidate) -> float:
    graph = cnn_models.graph_for(candidate.query.cnn)
    return float(staging.layer_flops(graph, candidate.layer.name))


def _shown(candidate: Candidate, metric: str, interval) -> str:
    low, high = interval
    return f"{candidate.layer.name} {candidate.result.scores[metric]:.2f} [{low:.2f}, {high:.2f}]"


def check_free(spark, name: str, overwrite: bool) -> None:
    """Before a TRANSFER runs: its SAVE BEST AS target must not be taken (unless overwrite)."""
    if (models_dir(spark) / check_name(name)).exists() and not overwrite:
        raise VistaBindError(
            f"a saved model named '{name}' exists; DROP SAVED MODEL {name} first or add "
            "OPTIONS (overwrite = true)"
        )


def save(spark, name: str, candidate: Candidate, selection: dict | None = None) -> dict:
    """Write the pipeline and its metadata as `<dir>/<name>/`, replacing any older one whole."""
    from pyspark.ml import PipelineModel
    from pyspark.ml.feature import VectorAssembler

    from vista_sql.ml.training import VECTOR

    name = check_name(name)
    q, layer, result = candidate.query, candidate.layer, candidate.result
    root = models_dir(spark)
    root.mkdir(parents=True, exist_ok=True)
    assembler = VectorAssembler(inputCols=list(result.inputs), outputCol=VECTOR)
    learner = models.lookup(q.model)
    meta = {
        "name": name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "cnn": {"label": candidate.cnn_label, **_ref_json(q.cnn)},
        "layer": layer.name,
        "feature_dim": layer.feature_dim,
        "pooling": {"mode": q.pooling.mode, "grid": q.pooling.grid},
        "structured": list(q.features),
        "inputs": list(result.inputs),
        "label": q.label,
        # A label of class names: `prediction` index i is classes[i], as is probability[i].
        "classes": list(q.classes) if q.classes is not None else None,
        "learner": learner.name,
        "task": learner.task,
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in q.params},
        "best_params": result.best_params,
        "metric": q.metrics[0],
        "metrics": result.scores,
        "n_train": result.n_train,
        "n_test": result.n_test,
        "linear": linear.export(learner.name, result.model),
        "selection": selection,  # Best.choose's: the rule, the best, what was saved and why
    }
    staging = root / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        PipelineModel(stages=[assembler, result.model]).save(str(staging / PIPELINE))
        (staging / METADATA).write_text(json.dumps(meta, indent=2, default=str))
        target = root / name
        if target.exists():
            _remove(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return meta


def _ref_json(ref: ModelRef) -> dict:
    return {
        "name": ref.name,
        "zoo": ref.zoo,
        "weights": {"kind": ref.weights.kind, "seed": ref.weights.seed, "path": ref.weights.path},
        "path": ref.path,
        "unsafe": ref.unsafe,
        "preprocess_mode": ref.preprocess_mode,
        "identity": ref.identity(),
        "describe": ref.describe(),
    }


def model_ref(meta: dict) -> ModelRef:
    cnn = meta["cnn"]
    weights = WeightsRef(**cnn["weights"])
    return ModelRef(
        name=cnn["name"],
        zoo=cnn["zoo"],
        weights=weights,
        path=cnn["path"],
        unsafe=cnn["unsafe"],
        preprocess_mode=cnn["preprocess_mode"],
    )


def pooling_of(meta: dict) -> Pooling:
    return Pooling(**meta["pooling"])


def read(root: Path | str, name: str) -> dict:
    """The metadata of saved model `name` under `root`; a bind error naming the known ones."""
    folder = Path(root) / name.lower()
    try:
        return json.loads((folder / METADATA).read_text())
    except FileNotFoundError:
        known = names(root)
        listed = f"; saved models: {', '.join(known)}" if known else f" in {root}"
        raise VistaBindError(
            f"no saved model named '{name}'{did_you_mean(name, known)}{listed}"
        ) from None
    except (OSError, ValueError) as error:
        raise VistaExecutionError(f"saved model '{name}' cannot be read: {error}") from None


def load_pipeline(root: Path | str, name: str):
    from pyspark.ml import PipelineModel

    from vista_sql.ml import one_vs_rest

    loaded = PipelineModel.load(str(Path(root) / name.lower() / PIPELINE))
    return PipelineModel([one_vs_rest.scored_in_the_jvm(stage) for stage in loaded.stages])


def names(root: Path | str) -> list[str]:
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / METADATA).is_file())


SHOW_SCHEMA = (
    "name string, cnn string, layer string, learner string, metric string, score double, "
    "created string"
)


def show(spark) -> list[tuple]:
    root = models_dir(spark)
    rows = []
    for name in names(root):
        meta = read(root, name)
        rows.append(
            (
                name,
                meta["cnn"]["describe"],
                meta["layer"],
                meta["learner"],
                meta["metric"],
                meta["metrics"].get(meta["metric"]),
                meta["created"],
            )
        )
    return rows


def drop(spark, name: str, if_exists: bool) -> None:
    root = models_dir(spark)
    target = root / name.lower()
    if not (target / METADATA).is_file():
        if if_exists:
            return
        read(root, name)  # raises the unknown-name error with the known names
    _remove(target)


def _remove(target: Path) -> None:
    # Renamed away first, so no reader ever sees a half-deleted model under its name.
    doomed = target.parent / f".{target.name}.drop-{uuid.uuid4().hex[:8]}"
    os.replace(target, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
