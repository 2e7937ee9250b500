"""CREATE CNN, DROP CNN, SHOW CNNS and DESCRIBE CNN: the session's CNN catalog as statements."""

from __future__ import annotations

import dataclasses

from vista_sql.catalog import models, roster, weights, zoo
from vista_sql.dialect import nodes
from vista_sql.errors import VistaBindError
from vista_sql.execution import sql_functions
from vista_sql.plan import options as option_specs
from vista_sql.plan.binder import Binder
from vista_sql.plan.values import position
from vista_sql.statements.context import Context, Outcome

SHOW_SCHEMA = (
    "name string, source string, input_size string, roster_layers int, imagenet_cached boolean"
)


def create(binder: Binder, registry: dict, stmt: nodes.CreateCnn) -> None:
    name = stmt.this.name.lower()
    line, col = position(stmt.this)
    if name in zoo.ZOO:
        raise VistaBindError(f"'{name}' is a built-in CNN; choose another name", line, col)
    if name in registry and not stmt.args.get("replace"):
        raise VistaBindError(
            f"CNN '{name}' already exists; use CREATE OR REPLACE CNN or DROP CNN first", line, col
        )
    options = option_specs.read(stmt.args.get("options") or [], option_specs.MODEL_OPTIONS)
    source = stmt.args["source"]
    if isinstance(source, nodes.exp.Literal):
        source = nodes.ModelFile(this=source)
    ref = binder.model_ref(source, stmt.args.get("weights"), options)
    try:
        models.model_for(ref).check()  # fail now, not inside a later statement's Spark tasks
    except VistaBindError as error:
        raise error.at(*position(source)) from None
    registry[name] = dataclasses.replace(ref, name=name)


def drop(registry: dict, stmt: nodes.DropCnn) -> None:
    name = stmt.this.name.lower()
    if name not in registry and not stmt.args.get("exists"):
        raise VistaBindError(f"no CNN named '{name}' was created", *position(stmt.this))
    registry.pop(name, None)


def show(registry: dict) -> list[tuple]:
    rows = []
    for spec in zoo.ZOO.values():
        cached = (
            bool(spec.imagenet_file) and (weights.keras_cache_dir() / spec.imagenet_file).exists()
        )
        size = "x".join(map(str, spec.input_size))
        rows.append(
            (spec.name, f"{spec.keras_module}.{spec.builder}", size, len(spec.roster), cached)
        )
    for name, ref in sorted(registry.items()):
        cnn = models.model_for(ref)
        size = "x".join(map(str, cnn.input_size))
        rows.append((name, ref.describe(), size, len(roster.roster(ref, cnn.graph)), False))
    return rows


def describe(binder: Binder, stmt: nodes.DescribeCnn) -> list[tuple]:
    # Shapes and FLOPs depend on the architecture only, so zoo CNNs are described with random
    # weights: DESCRIBE works offline whatever is in the Keras cache.
    builtin = stmt.this.name.lower() in zoo.ZOO
    ref = binder.model_ref(stmt.this, nodes.Weights(random=True) if builtin else None, {})
    graph = models.graph_for(ref)
    return [
        (
            info.layer,
            info.position,
            str(info.output_shape),
            info.feature_dim,
            info.mflops,
            info.bytes_per_record,
            info.clean_cut,
            info.in_roster,
        )
        for info in roster.describe(ref, graph)
    ]


# -- handlers ---------------------------------------------------------------------------------


def handle_create(context: Context, tree: nodes.CreateCnn) -> Outcome:
    create(context.binder, context.cnns, tree)
    sql_functions.register(context.spark, context.cnns)  # vista_features/vista_predict see it
    return Outcome(None)


def handle_drop(context: Context, tree: nodes.DropCnn) -> Outcome:
    drop(context.cnns, tree)
    sql_functions.register(context.spark, context.cnns)
    return Outcome(None)


def handle_show(context: Context, tree: nodes.ShowCnns) -> Outcome:
    return Outcome(context.spark.createDataFrame(show(context.cnns), SHOW_SCHEMA))


def handle_describe(context: Context, tree: nodes.DescribeCnn) -> Outcome:
    rows = describe(context.binder, tree)
    return Outcome(context.spark.createDataFrame(rows, roster.DESCRIBE_SCHEMA))
