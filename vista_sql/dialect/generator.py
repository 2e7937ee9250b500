"""Printing vista_sql's nodes back to SQL; every other node prints as Spark SQL."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.generators.spark import SparkGenerator

from vista_sql.dialect import nodes


def _csv(gen: SparkGenerator, items) -> str:
    return ", ".join(gen.sql(item) for item in items or [])


def _transfer_sql(gen: SparkGenerator, e: nodes.TransferFeatures) -> str:
    cnns = [_cnn_sql(gen, e), *(_cnn_sql(gen, more) for more in e.args.get("more_cnns") or [])]
    parts = [f"TRANSFER FEATURES FROM {', '.join(cnns)}"]
    if e.args.get("top"):
        parts.append(f"LAYERS TOP {gen.sql(e, 'top')}")
    else:
        parts.append(f"LAYERS ({_csv(gen, e.args.get('layers'))})")
    if e.args.get("pooling"):
        parts.append(gen.sql(e, "pooling"))
    parts.append(f"ON {gen.sql(e, 'images')}")
    parts.extend(_join_sql(gen, e))
    parts.append(f"TRAIN {gen.sql(e, 'train')}")
    evaluate = []
    if e.args.get("split"):
        evaluate.append(f"SPLIT {gen.sql(e, 'split')}")
    if e.args.get("folds"):
        evaluate.append(f"CROSS VALIDATE {gen.sql(e, 'folds')}")
    if e.args.get("metrics"):
        evaluate.append(f"METRICS ({_csv(gen, e.args['metrics'])})")
    if evaluate:
        parts.append("EVALUATE " + " ".join(evaluate))
    if e.args.get("save_as"):
        parts.append(f"SAVE BEST AS {gen.sql(e, 'save_as')}")
    if e.args.get("materialize"):
        table = "TABLE " if isinstance(e.args["materialize"], exp.Table) else ""
        parts.append(f"MATERIALIZE INTO {table}{gen.sql(e, 'materialize')}")
    if e.args.get("options"):
        parts.append(f"OPTIONS ({_csv(gen, e.args['options'])})")
    return " ".join(parts)


def _cnn_sql(gen: SparkGenerator, e: exp.Expression) -> str:
    text = gen.sql(e, "this")
    if e.args.get("weights"):
        text += f" {gen.sql(e, 'weights')}"
    return text


def _join_sql(gen: SparkGenerator, e: exp.Expression) -> list[str]:
    """JOIN <table> USING (...) | ON cond, [WHERE cond]: shared by TRANSFER and PREDICT."""
    parts = [f"JOIN {gen.sql(e, 'structured')}"]
    if e.args.get("using"):
        parts.append(f"USING ({_csv(gen, e.args['using'])})")
    else:
        parts.append(f"ON {gen.sql(e, 'on')}")
    if e.args.get("where"):
        parts.append(f"WHERE {gen.sql(e, 'where')}")
    return parts


def _predict_sql(gen: SparkGenerator, e: nodes.PredictWith) -> str:
    head = f"PREDICT WITH {gen.sql(e, 'this')} ON {gen.sql(e, 'images')}"
    return " ".join([head, *_join_sql(gen, e)])


def _drop_saved_sql(gen: SparkGenerator, e: nodes.DropSavedModel) -> str:
    exists = " IF EXISTS" if e.args.get("exists") else ""
    return f"DROP SAVED MODEL{exists} {gen.sql(e, 'this')}"


def _explain_sql(gen: SparkGenerator, e: nodes.ExplainTransfer) -> str:
    cost = " COST" if e.args.get("cost") else ""
    return f"EXPLAIN{cost} {gen.sql(e, 'this')}"


def _weights_sql(gen: SparkGenerator, e: nodes.Weights) -> str:
    if e.args.get("random"):
        seed = f" SEED {gen.sql(e, 'seed')}" if e.args.get("seed") else ""
        return f"WEIGHTS RANDOM{seed}"
    return f"WEIGHTS {gen.sql(e, 'this')}"


def _source_sql(gen: SparkGenerator, e: nodes.Source) -> str:
    text = gen.sql(e, "this")
    if e.args.get("alias"):
        text += f" AS {gen.sql(e, 'alias')}"
    if e.args.get("key"):
        text += f" ({gen.sql(e, 'key')}, {gen.sql(e, 'image')})"
    return text


def _train_sql(gen: SparkGenerator, e: nodes.Train) -> str:
    args = [f"LABEL {gen.sql(e, 'label')}"]
    if e.args.get("features"):
        args.append(f"FEATURES ({_csv(gen, e.args['features'])})")
    args.extend(gen.sql(p) for p in e.args.get("params") or [])
    return f"{gen.sql(e, 'this')} ({', '.join(args)})"


def _option_sql(gen: SparkGenerator, e: nodes.OptionEQ) -> str:
    return f"{gen.sql(e, 'this')} = {gen.sql(e, 'expression')}"


def _pooling_sql(gen: SparkGenerator, e: nodes.Pooling) -> str:
    grid = f" {gen.sql(e, 'grid')}" if e.args.get("grid") else ""
    return f"POOL {e.this}{grid}"


def _create_cnn_sql(gen: SparkGenerator, e: nodes.CreateCnn) -> str:
    replace = " OR REPLACE" if e.args.get("replace") else ""
    text = f"CREATE{replace} CNN {gen.sql(e, 'this')} FROM {gen.sql(e, 'source')}"
    if e.args.get("weights"):
        text += f" {gen.sql(e, 'weights')}"
    return text + _options_suffix(gen, e)


def _refresh_features_sql(gen: SparkGenerator, e: nodes.RefreshFeatures) -> str:
    return f"REFRESH FEATURES {gen.sql(e, 'this')}" + _options_suffix(gen, e)


def _options_suffix(gen: SparkGenerator, e: exp.Expression) -> str:
    options = e.args.get("options")
    return f" OPTIONS ({_csv(gen, options)})" if options else ""


def _drop_cnn_sql(gen: SparkGenerator, e: nodes.DropCnn) -> str:
    exists = " IF EXISTS" if e.args.get("exists") else ""
    return f"DROP CNN{exists} {gen.sql(e, 'this')}"


class VistaGenerator(SparkGenerator):
    TRANSFORMS = {
        **SparkGenerator.TRANSFORMS,
        nodes.TransferFeatures: _transfer_sql,
        nodes.ExplainTransfer: _explain_sql,
        nodes.Weights: _weights_sql,
        nodes.Source: _source_sql,
        nodes.Train: _train_sql,
        nodes.OptionEQ: _option_sql,
        nodes.ModelFile: lambda gen, e: f"MODEL {gen.sql(e, 'this')}",
        nodes.Pooling: _pooling_sql,
        nodes.CreateCnn: _create_cnn_sql,
        nodes.DropCnn: _drop_cnn_sql,
        nodes.ShowCnns: lambda gen, e: "SHOW CNNS",
        nodes.ParamIn: lambda gen, e: f"{gen.sql(e, 'this')} IN ({_csv(gen, e.expressions)})",
        nodes.DescribeModel: lambda gen, e: f"DESCRIBE MODEL {gen.sql(e, 'this')}",
        nodes.DescribeCnn: lambda gen, e: f"DESCRIBE CNN {gen.sql(e, 'this')}",
        nodes.PredictWith: _predict_sql,
        nodes.ExplainPredict: lambda gen, e: f"EXPLAIN {gen.sql(e, 'this')}",
        nodes.ShowSavedModels: lambda gen, e: "SHOW SAVED MODELS",
        nodes.DropSavedModel: _drop_saved_sql,
        nodes.RefreshFeatures: _refresh_features_sql,
        nodes.ShowFeatureTables: lambda gen, e: "SHOW FEATURE TABLES",
    }
