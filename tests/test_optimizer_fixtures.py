"""The optimizer on fixture files, sqlglot style: a statement, the facts it is planned with, the
plan EXPLAIN shows. No Spark session and no CNN is built: tables are declared, the CNN's layers
and costs are given (as optimizer/workload.profile measured them), and the binder sees a stand-in
model that only knows layer names and shapes.

A fixture (tests/fixtures/optimizer/*.txt) is sections opened by `-- <name>` lines:

    -- statement    the TRANSFER statement
    -- tables       `name: column type, ...` per table
    -- cnn          `parameter_bytes n, activation_bytes n`, then per layer, shallowest first,
                    `<layer>: shape AxBxC, flops n, frontier n`
    -- facts        `statistics ...`, `resources ...`, `session ...` lines of `field value` pairs
                    (the fields of Statistics, Resources, and slots / storage_limit; sizes may
                    end in MiB or GiB)
    -- plan         the expected EXPLAIN text, up to its Spark SQL

Regenerate the expected plans with VISTA_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlglot

import vista_sql.dialect  # noqa: F401 - registers the `vista` dialect
from vista_sql.catalog import models
from vista_sql.catalog.graph import CnnGraph, Op
from vista_sql.ml import models as learners
from vista_sql.optimizer import planner
from vista_sql.optimizer.config import Resources
from vista_sql.plan.binder import Binder
from vista_sql.plan.nodes import Statistics
from vista_sql.plan.workload import LayerCost, Profile
from vista_sql.statements import explain

FIXTURES = Path(__file__).parent / "fixtures" / "optimizer"
_SECTION = re.compile(r"^-- (\w+)\s*$", re.MULTILINE)
_UNITS = {"GiB": 1024**3, "MiB": 1024**2}


def _sections(text: str) -> dict[str, str]:
    parts = _SECTION.split(text)
    return {name: body.strip("\n") for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def _value(text: str):
    for unit, factor in _UNITS.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    if text in ("true", "false"):
        return text == "true"
    return int(text) if text.lstrip("-").isdigit() else text


def _pairs(text: str) -> dict:
    return {k: _value(v) for k, v in (pair.strip().split(" ", 1) for pair in text.split(","))}


def _facts(text: str) -> dict:
    lines = dict(line.split(" ", 1) for line in text.splitlines() if line.strip())
    facts = {
        "statistics": Statistics(**_pairs(lines["statistics"])),
        "resources": Resources(**_pairs(lines["resources"])),
    }
    facts.update(_pairs(lines["session"]) if "session" in lines else {})
    return facts


def _cnn(text: str) -> tuple[dict, dict]:
    first, *rows = text.splitlines()
    layers = {}
    for row in rows:
        name, rest = row.split(":", 1)
        fields = _pairs(rest)
        shape = tuple(int(d) for d in str(fields["shape"]).split("x"))
        layers[name.strip()] = (shape, float(fields["flops"]), int(fields["frontier"]))
    return _pairs(first), layers


class _Tables:
    """What the binder asks a Spark session: a table's schema."""

    def __init__(self, text: str):
        self.schemas = {}
        for line in text.splitlines():
            name, columns = line.split(":", 1)
            fields = [c.strip().split(" ", 1) for c in columns.split(",")]
            self.schemas[name.strip()] = [
                SimpleNamespace(name=c, dataType=SimpleNamespace(simpleString=lambda t=t: t))
                for c, t in fields
            ]

    def table(self, name: str):
        return SimpleNamespace(schema=SimpleNamespace(fields=self.schemas[name.strip("`")]))


def _stand_in(layers: dict):
    """The graph of a CNN that is a chain of its layers, knowing only their names, order and
    shapes (costs come from the fixture's profile)."""
    names = list(layers)
    ops = tuple(
        Op(name, "Stand-in", index, (names[index - 1] if index else "image",), (name,))
        for index, name in enumerate(names)
    )
    graph = CnnGraph(
        ops=ops,
        inputs=("image",),
        outputs=(names[-1],),
        shapes={name: shape for name, (shape, _, _) in layers.items()},
        listed=tuple(names),
        layers={name: name for name in names},
        flops={},
        parameter_bytes=0,
    )
    return graph


def _mllib_names(learner, given) -> tuple:
    """Parameters as MLlib names them, unchecked: checking them builds an MLlib estimator, which
    needs a JVM (tests/test_learners.py covers that)."""
    aliases = dict(learner.aliases)
    named = {}
    for name, value in [*learner.defaults, *given]:
        first, *rest = aliases.get(name.lower(), name.lower()).split("_")
        named[first + "".join(part.title() for part in rest)] = value
    return tuple(named.items())


def _plan_text(fixture: dict[str, str], monkeypatch) -> str:
    sizes, layers = _cnn(fixture["cnn"])
    # graph_for, not model_for: through model_for the stand-in would reach the graph cache, and
    # later tests in this process would plan the zoo CNN from its three layers.
    monkeypatch.setattr(models, "graph_for", lambda ref: _stand_in(layers))
    monkeypatch.setattr(learners, "resolve_params", _mllib_names)
    statement = sqlglot.parse_one(fixture["statement"], read="vista")
    explain_only = isinstance(statement, vista_sql.dialect.nodes.ExplainTransfer)
    query = Binder(_Tables(fixture["tables"])).bind(statement.this if explain_only else statement)
    profile = Profile(
        tuple(LayerCost(x.name, x.feature_dim, *layers[x.name][1:]) for x in query.layers),
        **sizes,
    )
    plan = planner.plan(query, profile=profile, **_facts(fixture["facts"]))
    text = explain.render(plan, statement_id=1, with_cost=True)
    return text[: text.index("== Spark SQL ==")].rstrip("\n")


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.txt")), ids=lambda p: p.stem)
def test_optimizer_fixture(path, monkeypatch):
    text = path.read_text()
    fixture = _sections(text)
    planned = _plan_text(fixture, monkeypatch)
    if os.environ.get("VISTA_UPDATE_GOLDEN"):
        head = text[: text.index("-- plan")]
        path.write_text(f"{head}-- plan\n{planned}\n")
        fixture["plan"] = planned
    assert planned == fixture["plan"], f"regenerate with VISTA_UPDATE_GOLDEN=1 if intended: {path}"
