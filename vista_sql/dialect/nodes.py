"""AST nodes for vista_sql's statements, as sqlglot expressions.

Each node declares its `arg_types` the sqlglot way; printing lives in generator.py.
"""

from __future__ import annotations

from sqlglot import exp


class Statement(exp.Expression):
    """A whole vista_sql statement: what the parser returns as a statement's root.

    Subclassing this is what makes a node a statement, and `rule` names its production in
    grammar/vista.ebnf: tests/test_grammar.py holds every subclass to that rule and to an example
    in grammar/examples/, so the grammar cannot fall behind the parser.
    """

    rule: str = ""


class TransferFeatures(Statement):
    """TRANSFER FEATURES FROM <cnn> ... TRAIN <model> (...)."""

    rule = "transfer"
    arg_types = {
        "this": True,  # the CNN name (Identifier) or a ModelFile
        "weights": False,  # Weights
        "more_cnns": False,  # list[CnnChoice]: FROM a, b WEIGHTS ..., compared in one statement
        "pooling": False,  # Pooling
        "layers": False,  # list[Identifier]; empty when `top` is set
        "top": False,  # Literal: LAYERS TOP k
        "images": True,  # Source with key and image columns
        "structured": True,  # Source
        "using": False,  # list[Identifier]
        "on": False,  # join condition
        "where": False,  # filter on the joined rows
        "train": True,  # Train
        "split": False,  # Literal fraction held out for evaluation
        "folds": False,  # Literal: EVALUATE CROSS VALIDATE k
        "metrics": False,  # list[Identifier]: EVALUATE METRICS (...)
        "save_as": False,  # Identifier: SAVE BEST AS <name>
        "materialize": False,  # Literal string path
        "options": False,  # list[OptionEQ]
    }


class ExplainTransfer(Statement):
    """EXPLAIN [COST] TRANSFER FEATURES ...: show the plan without running it."""

    rule = "explain"
    arg_types = {"this": True, "cost": False}


class Weights(exp.Expression):
    """WEIGHTS RANDOM [SEED n] | WEIGHTS '<name or path>'."""

    arg_types = {"this": False, "random": False, "seed": False}


class Source(exp.Expression):
    """A table, view or (query), with an optional alias and, for images, (key, image)."""

    arg_types = {"this": True, "alias": False, "key": False, "image": False}


class Train(exp.Expression):
    """TRAIN <model> (LABEL col [, FEATURES (cols)] [, param = literal]...)."""

    arg_types = {"this": True, "label": True, "features": False, "params": False}


class OptionEQ(exp.Expression):
    """`name = literal` inside TRAIN (...) or OPTIONS (...)."""

    arg_types = {"this": True, "expression": True}


class ModelFile(exp.Expression):
    """FROM MODEL '<path>': a user's .keras/.h5 file or SavedModel directory."""

    arg_types = {"this": True}


class Pooling(exp.Expression):
    """POOL MAX <grid> | POOL AVG <grid> | POOL NONE (flatten)."""

    arg_types = {"this": True, "grid": False}  # this: "MAX" | "AVG" | "NONE"


class CreateCnn(Statement):
    """CREATE [OR REPLACE] CNN <name> FROM ('<path>' | <cnn> [WEIGHTS ...]) [OPTIONS (...)]."""

    rule = "create_cnn"
    arg_types = {"this": True, "source": True, "weights": False, "replace": False, "options": False}


class DropCnn(Statement):
    """DROP CNN [IF EXISTS] <name>."""

    rule = "drop_cnn"
    arg_types = {"this": True, "exists": False}


class ShowCnns(Statement):
    """SHOW CNNS."""

    rule = "show_cnns"
    arg_types = {}


class DescribeCnn(Statement):
    """DESCRIBE CNN <name>: the layer roster."""

    rule = "describe_cnn"
    arg_types = {"this": True}


class ParamIn(exp.Expression):
    """`name IN (v1, v2, ...)` inside TRAIN (...): a grid for cross-validation."""

    arg_types = {"this": True, "expressions": True}


class DescribeModel(Statement):
    """DESCRIBE MODEL <learner>: its parameters and defaults."""

    rule = "describe_model"
    arg_types = {"this": True}


class CnnChoice(exp.Expression):
    """One more CNN after the first in FROM a [WEIGHTS ...], b [WEIGHTS ...]."""

    arg_types = {"this": True, "weights": False}  # this: Identifier or ModelFile


class PredictWith(Statement):
    """PREDICT WITH <saved model> ON <images> (key, image) JOIN <table> USING (...) [WHERE ...]."""

    rule = "predict"
    arg_types = {
        "this": True,  # Identifier: the saved model's name
        "images": True,
        "structured": True,
        "using": False,
        "on": False,
        "where": False,
    }


class ExplainPredict(Statement):
    """EXPLAIN PREDICT WITH ...: the plan of a PREDICT WITH without running it."""

    rule = "explain_predict"
    arg_types = {"this": True}  # PredictWith


class ShowSavedModels(Statement):
    """SHOW SAVED MODELS."""

    rule = "show_saved_models"
    arg_types = {}


class DropSavedModel(Statement):
    """DROP SAVED MODEL [IF EXISTS] <name>."""

    rule = "drop_saved_model"
    arg_types = {"this": True, "exists": False}


class RefreshFeatures(Statement):
    """REFRESH FEATURES <table> [OPTIONS (...)]: extract again the features of a feature table
    (incrementally), with the options of the statement that wrote it overridden by these."""

    rule = "refresh_features"
    arg_types = {"this": True, "options": False}  # exp.Table, list[OptionEQ]


class ShowFeatureTables(Statement):
    """SHOW FEATURE TABLES."""

    rule = "show_feature_tables"
    arg_types = {}
