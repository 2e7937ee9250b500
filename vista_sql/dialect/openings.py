"""Which statements are ours: the one list that the script splitter, the tokenizer and the parser
read, so a statement is never sent to our parser by one and to Spark by another."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Form:
    opening: tuple[str, ...]  # the words that make a statement ours, whatever follows
    then: tuple[str, ...]  # the words our parser needs next; without them Spark's parser tries
    parse: str  # the VistaParser method `_parse_<parse>(form)` that reads what follows
    alone: bool = False  # nothing may follow: `SHOW CNNS x` stays a Spark command

    @property
    def words(self) -> tuple[str, ...]:
        return self.opening + self.then


FORMS = (
    Form(("TRANSFER",), ("FEATURES",), "transfer_statement"),
    Form(("EXPLAIN", "TRANSFER"), ("FEATURES",), "explain_transfer"),
    Form(("EXPLAIN", "COST", "TRANSFER"), ("FEATURES",), "explain_transfer"),
    Form(("EXPLAIN", "PREDICT", "WITH"), (), "explain_predict"),
    Form(("CREATE", "CNN"), (), "create_cnn"),
    Form(("CREATE", "OR", "REPLACE", "CNN"), (), "create_cnn"),
    Form(("DROP", "CNN"), (), "drop_cnn"),
    Form(("SHOW", "CNNS"), (), "show_cnns", alone=True),
    Form(("DESCRIBE", "CNN"), (), "describe_cnn"),
    Form(("DESC", "CNN"), (), "describe_cnn"),
    Form(("DESCRIBE", "MODEL"), (), "describe_model"),
    Form(("DESC", "MODEL"), (), "describe_model"),
    Form(("PREDICT", "WITH"), (), "predict"),
    Form(("SHOW", "SAVED", "MODELS"), (), "show_saved_models", alone=True),
    Form(("DROP", "SAVED", "MODEL"), (), "drop_saved_model"),
    Form(("REFRESH", "FEATURES"), (), "refresh_features"),
    Form(("SHOW", "FEATURE", "TABLES"), (), "show_feature_tables", alone=True),
)

LONGEST_OPENING = max(len(form.opening) for form in FORMS)


def is_ours(words: Sequence[str]) -> bool:
    """True when a statement's first words (upper case) open one of ours."""
    return any(tuple(words[: len(form.opening)]) == form.opening for form in FORMS)
