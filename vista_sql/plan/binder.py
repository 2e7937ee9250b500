"""Binding: resolve every name in a TRANSFER statement against Spark and the CNN catalog.

The result is a `TransferQuery` in which tables are readable relations, columns exist with known
types, layers exist in the CNN (shallowest first, de-duplicated) and parameters are typed. Every
failure is a `VistaBindError` anchored at the offending name.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path

from pyspark.errors import PySparkException
from sqlglot import exp

from vista_sql.catalog import models as cnn_models
from vista_sql.catalog import pooling, roster, staging, weights, zoo
from vista_sql.dialect import nodes
from vista_sql.errors import (
    UNDEFINED_COLUMN,
    UNDEFINED_TABLE,
    VistaBindError,
    did_you_mean,
    find_named,
    first_line,
)
from vista_sql.ml import metrics as ml_metrics
from vista_sql.ml import models
from vista_sql.plan import feature_tables
from vista_sql.plan import options as option_specs
from vista_sql.plan.columns import IMAGES, TABLE
from vista_sql.plan.materialize_target import check_target
from vista_sql.plan.nodes import LayerRef, Relation, TransferQuery
from vista_sql.plan.values import literal_value, position

# Internal aliases of the two sides of the join in generated SQL.
NUMERIC = {"tinyint", "smallint", "int", "bigint", "float", "double", "boolean"}
DEFAULT_SPLIT = 0.2
DEFAULT_SEED = 42

_view_ids = itertools.count(1)


def _error(message: str, node: exp.Expr | None, sqlstate: str | None = None) -> VistaBindError:
    line, col = position(node) if node is not None else (None, None)
    return VistaBindError(message, line, col, sqlstate)


def _is_numeric(spark_type: str) -> bool:
    return spark_type in NUMERIC or spark_type.startswith("decimal")


def _label_classes(label: str, spark_type: str, learner, where) -> tuple[str, ...] | None:
    """None for a numeric or boolean label; () for class names, which the statement layer reads
    from the joined rows before planning (TransferQuery.classes)."""
    if _is_numeric(spark_type):
        return None
    if spark_type != "string" and not spark_type.startswith(("varchar", "char")):
        raise _error(
            f"label column '{label}' is {spark_type}; expected a numeric, boolean or string column",
            where,
        )
    if learner.task != "classification":
        raise _error(
            f"label column '{label}' holds class names ({spark_type}); {learner.name} is a "
            "regressor and needs a numeric label",
            where,
        )
    return ()


class Binder:
    def __init__(self, spark, registry: dict[str, cnn_models.ModelRef] | None = None):
        self.spark = spark
        self.registry = registry or {}  # CNNs created in this session with CREATE CNN
        self.temp_views: list[str] = []  # registered for subqueries; the caller drops them

    def bind(self, stmt: nodes.TransferFeatures) -> TransferQuery:
        options = option_specs.read(stmt.args.get("options") or [], option_specs.TRANSFER_OPTIONS)
        ref = self.model_ref(stmt.this, stmt.args.get("weights"), options)
        try:
            graph = cnn_models.graph_for(ref)
        except VistaBindError as error:
            raise error.at(*position(stmt.this)) from None
        pool = self._pooling(stmt.args.get("pooling"))
        layers = self._layers(stmt, ref, graph, pool)

        images, key, image, table, join_columns, condition, where = self.sources(stmt)
        train = stmt.args["train"]
        label = self._column(table, train.args["label"], "structured")
        features = self._features(train, table, exclude={label, *join_columns})
        try:
            learner = models.lookup(train.this.name)
        except VistaBindError as error:
            raise error.at(*position(train.this)) from None
        classes = _label_classes(label, dict(table.columns)[label], learner, train.args["label"])
        params = [_param(p) for p in train.args.get("params") or []]
        try:
            resolved = models.resolve_params(learner, params)
        except VistaBindError as error:
            bad = next(
                (p.this for p in train.args.get("params") or [] if p.this.name in error.message),
                None,
            )
            raise error.at(*position(bad)) if bad is not None else error from None

        split = self._split(stmt.args.get("split"))
        table_name, target = feature_tables.target_of(stmt.args.get("materialize"), self._conf)
        if target is not None and not stmt.args.get("more_cnns"):  # bind_all checks each CNN's
            try:
                overwrite = bool(options.get("overwrite", False))
                check_target(target, overwrite, ref.identity(), pool.describe())
            except VistaBindError as error:
                raise error.at(*position(stmt.args["materialize"])) from None
        metric_nodes = stmt.args.get("metrics") or []
        try:
            chosen = ml_metrics.choose(learner.task, [m.name for m in metric_nodes])
        except VistaBindError as error:
            raise error.at(*position(metric_nodes[0])) from None
        folds = stmt.args.get("folds")
        if folds is not None and int(folds.name) < 2:
            raise _error(f"CROSS VALIDATE needs at least 2 folds, not {folds.name}", folds)
        return TransferQuery(
            cnn=ref,
            layers=layers,
            images=images,
            key=key,
            image=image,
            structured=table,
            join_condition=condition,
            where=where,
            label=label,
            classes=classes,
            features=features,
            model=learner.name,
            params=resolved,
            split=split,
            seed=options.get("seed", DEFAULT_SEED),
            materialize=target,
            feature_table=table_name,
            options=tuple(sorted(options.items())),
            pooling=pool,
            metrics=chosen,
            folds=int(folds.name) if folds is not None else None,
        )

    def _conf(self, key: str) -> str | None:
        return self.spark.conf.get(key, None)

    def bind_all(self, stmt: nodes.TransferFeatures) -> tuple[TransferQuery, ...]:
        """One query per CNN of `FROM a, b, ...`: they differ only in the CNN and its layers."""
        first = self.bind(stmt)
        more = stmt.args.get("more_cnns") or []
        if not more:
            return (first,)
        options = dict(first.options)
        queries, seen = [first], {first.cnn: stmt.this}
        for choice in more:
            ref = self.model_ref(choice.this, choice.args.get("weights"), options)
            if ref in seen:
                raise _error(f"CNN '{ref.name}' is listed twice with the same weights", choice)
            seen[ref] = choice.this
            try:
                graph = cnn_models.graph_for(ref)
            except VistaBindError as error:
                raise error.at(*position(choice.this)) from None
            layers = self._layers(stmt, ref, graph, first.pooling)
            queries.append(dataclasses.replace(first, cnn=ref, layers=layers))
        if first.materialize is None:
            return tuple(queries)
        # One directory per CNN: two CNNs may share layer names (or be one CNN, two weights).
        labelled = []
        for label, query in zip(cnn_labels(queries), queries, strict=True):
            target = str(Path(first.materialize) / label)
            try:
                overwrite = bool(options.get("overwrite", False))
                check_target(target, overwrite, query.cnn.identity(), query.pooling.describe())
            except VistaBindError as error:
                raise error.at(*position(stmt.args["materialize"])) from None
            labelled.append(dataclasses.replace(query, materialize=target))
        return tuple(labelled)

    def sources(self, stmt):
        """Images and structured side of `ON images (key, image) JOIN table USING/ON ... WHERE`.

        Returns (images, key, image, table, join columns, join condition, where) with the
        condition and filter over the internal aliases; shared by TRANSFER and PREDICT WITH.
        """
        img_src, tab_src = stmt.args["images"], stmt.args["structured"]
        images = self._relation(img_src, "images")
        table = self._relation(tab_src, "structured")
        sides = {IMAGES: images, TABLE: table}
        names = {IMAGES: self._side_names(img_src), TABLE: self._side_names(tab_src)}

        key = self._column(images, img_src.args["key"], "images")
        image = self._column(images, img_src.args["image"], "images")
        image_type = dict(images.columns)[image]
        if image_type != "binary":
            raise _error(
                f"image column '{image}' is {image_type}, expected binary image bytes "
                "(for files, read them with a binaryFile view)",
                img_src.args["image"],
            )
        join_columns, condition = self._join(stmt, images, table, sides, names)
        where = stmt.args.get("where")
        if where is not None:
            where = self._qualify(where, sides, names)
        return images, key, image, table, join_columns, condition, where

    # -- pieces -------------------------------------------------------------------------------

    def model_ref(self, node: exp.Expr, weights_node, options: dict) -> cnn_models.ModelRef:
        """The CNN a statement names: a model file, a CNN created in the session, or the zoo."""
        if isinstance(node, nodes.ModelFile):
            path = node.this.name
            return cnn_models.ModelRef(
                name=path.rstrip("/").rsplit("/", 1)[-1].split(".")[0] or "model",
                path=path,
                unsafe=bool(options.get("unsafe_deserialization", False)),
                preprocess_mode=str(options.get("preprocess", "none")),
            )
        created = self.registry.get(node.name.lower())
        if created is not None:
            if weights_node is not None:
                raise _error(f"CNN '{node.name}' was created with its own weights", weights_node)
            return created
        try:
            spec = find_named({**zoo.ZOO, **self.registry}, node.name, "CNN")
        except VistaBindError as error:
            raise error.at(*position(node)) from None
        ref = cnn_models.ModelRef(
            name=spec.name, zoo=spec.name, weights=self._weights(weights_node, options)
        )
        try:
            weights.check_available(spec, ref.weights)
        except VistaBindError as error:
            raise error.at(*position(weights_node or node)) from None
        return ref

    @staticmethod
    def _weights(node: nodes.Weights | None, options: dict) -> weights.WeightsRef:
        if node is None:
            return weights.WeightsRef("imagenet")
        if node.args.get("random"):
            seed = node.args.get("seed")
            chosen = int(seed.name) if seed else options.get("seed", 0)
            return weights.WeightsRef("random", seed=chosen)
        name = node.this.name
        if name.lower() == "imagenet":
            return weights.WeightsRef("imagenet")
        return weights.WeightsRef("file", path=name)

    @staticmethod
    def _pooling(node: nodes.Pooling | None) -> pooling.Pooling:
        if node is None:
            return pooling.DEFAULT
        if node.this == "NONE":
            return pooling.Pooling("none", 1)
        grid = int(node.args["grid"].name)
        if grid < 1:
            raise _error(f"POOL {node.this} needs a grid of at least 1, not {grid}", node)
        return pooling.Pooling(node.this.lower(), grid)

    @staticmethod
    def _layers(stmt, ref, graph, pool) -> tuple[LayerRef, ...]:
        top = stmt.args.get("top")
        if top is not None:
            candidates = roster.roster(ref, graph)
            count = int(top.name)
            if not 1 <= count <= len(candidates):
                raise _error(
                    f"LAYERS TOP needs 1..{len(candidates)} for {ref.name}, not {count}", top
                )
            requested = list(candidates[-count:])
        else:
            requested = []
            for node in stmt.args.get("layers") or []:
                if node.name not in graph.layers:
                    hint = did_you_mean(node.name, list(graph.listed))
                    raise _error(f"unknown layer '{node.name}' for {ref.name}{hint}", node)
                requested.append(node.name)
        refs = []
        for name in staging.ordered_layers(graph, requested):
            shape = graph.feature_shape(name)
            refs.append(LayerRef(name, shape, pooling.pooled_dim(shape, pool)))
        return tuple(refs)

    def _relation(self, source: nodes.Source, role: str) -> Relation:
        target = source.this
        if isinstance(target, exp.Subquery):
            text = target.this.sql(dialect="spark")
            try:
                frame = self.spark.sql(text)
            except PySparkException as error:
                raise _error(f"the {role} subquery fails: {first_line(error)}", target) from None
            view = f"__vista_{role}_{next(_view_ids)}"
            frame.createOrReplaceTempView(view)
            self.temp_views.append(view)
            name = exp.to_identifier(view, quoted=True).sql(dialect="spark")
        else:
            name = target.sql(dialect="spark", identify=True)
            try:
                frame = self.spark.table(name)
            except PySparkException:
                known = [t.name for t in self.spark.catalog.listTables()]
                raise _error(
                    f"unknown table or view '{target.sql(dialect='spark')}'"
                    f"{did_you_mean(target.name, known)}",
                    target,
                    UNDEFINED_TABLE,
                ) from None
        columns = tuple((f.name, f.dataType.simpleString()) for f in frame.schema.fields)
        return Relation(name=name, columns=columns)

    @staticmethod
    def _side_names(source: nodes.Source) -> set[str]:
        names = {source.args["alias"].name.lower()} if source.args.get("alias") else set()
        if isinstance(source.this, exp.Table):
            names.add(source.this.name.lower())
        return names

    @staticmethod
    def _column(relation: Relation, node: exp.Expr, role: str) -> str:
        wanted = node.name
        for name in relation.column_names():
            if name.lower() == wanted.lower():
                return name
        hint = did_you_mean(wanted, relation.column_names())
        raise _error(f"unknown column '{wanted}' in the {role} table{hint}", node, UNDEFINED_COLUMN)

    def _join(self, stmt, images, table, sides, names):
        using = stmt.args.get("using")
        if using:
            columns, conditions = [], []
            for node in using:
                left = self._column(images, node, "images")
                right = self._column(table, node, "structured")
                columns.append(right)
                conditions.append(exp.column(left, IMAGES).eq(exp.column(right, TABLE)))
            return set(columns), exp.and_(*conditions)
        condition = self._qualify(stmt.args["on"], sides, names)
        columns = {c.name for c in condition.find_all(exp.Column) if c.table == TABLE}
        return columns, condition

    def _qualify(self, expression: exp.Expr, sides: dict, names: dict) -> exp.Expr:
        """Rewrite each column as `img.<col>` or `tab.<col>` with its real name; reject the rest."""
        expression = expression.copy()
        for column in list(expression.find_all(exp.Column)):
            qualifier = column.table.lower()
            if qualifier:
                side = next((s for s, known in names.items() if qualifier in known), None)
                if side is None:
                    raise _error(
                        f"unknown table or alias '{column.table}'", column, UNDEFINED_TABLE
                    )
                candidates = [side]
            else:
                candidates = [
                    s
                    for s, rel in sides.items()
                    if column.name.lower() in {c.lower() for c in rel.column_names()}
                ]
                if len(candidates) > 1:
                    raise _error(f"column '{column.name}' is in both tables; qualify it", column)
                if not candidates:
                    every = [c for rel in sides.values() for c in rel.column_names()]
                    raise _error(
                        f"unknown column '{column.name}'{did_you_mean(column.name, every)}", column
                    )
            side = candidates[0]
            role = "images" if side == IMAGES else "structured"
            real = self._column(sides[side], column.this, role)
            column.replace(exp.column(real, side, quoted=True))
        return expression

    def _features(self, train: nodes.Train, table: Relation, exclude: set[str]) -> tuple[str, ...]:
        types = dict(table.columns)
        given = train.args.get("features")
        if not given:
            return tuple(c for c, t in table.columns if _is_numeric(t) and c not in exclude)
        chosen = []
        for node in given:
            name = self._column(table, node, "structured")
            if not _is_numeric(types[name]):
                raise _error(
                    f"feature column '{name}' is {types[name]}; features must be numeric", node
                )
            if name in exclude:
                raise _error(f"column '{name}' is the label or a join key, not a feature", node)
            chosen.append(name)
        return tuple(dict.fromkeys(chosen))

    @staticmethod
    def _split(node: exp.Expr | None) -> float:
        if node is None:
            return DEFAULT_SPLIT
        value = float(node.name)
        if not 0.0 < value < 1.0:
            raise _error(
                f"EVALUATE SPLIT must be between 0 and 1 (exclusive), not {node.name}", node
            )
        return value


def cnn_labels(queries) -> list[str]:
    """What the result's `cnn` column calls each CNN: its name, plus its weights if shared."""
    names = [q.cnn.name for q in queries]
    labels = []
    for query in queries:
        label = query.cnn.name
        if names.count(label) > 1:
            label += "_" + re.sub(r"[^0-9a-zA-Z]+", "_", query.cnn.weights.describe()).strip("_")
        labels.append(label)
    return labels


def _param(node) -> tuple[str, object]:
    if isinstance(node, nodes.ParamIn):
        return node.this.name, models.Grid(literal_value(v) for v in node.expressions)
    return node.this.name, literal_value(node.expression)
