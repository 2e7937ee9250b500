"""grammar/vista.ebnf is the whole language: every statement the parser returns has a rule there and
an example in grammar/examples/, and the grammar refers to nothing it does not define.

A statement is a subclass of nodes.Statement (its `rule` names its production), so a new statement
needs no list kept here. Parsing only: no Spark, no TensorFlow.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

import vista_sql  # noqa: F401  (registers the dialect)
from vista_sql.dialect import nodes, openings

GRAMMAR = Path(__file__).resolve().parents[1] / "grammar"
EXAMPLES = sorted((GRAMMAR / "examples").glob("*.sql"))

# Names the grammar uses without defining: Spark SQL's tokens; spark_sql_* are its productions.
SPARK_TOKENS = {"identifier", "keyword", "string", "number", "integer"}

NODE_CLASSES = [
    cls
    for cls in vars(nodes).values()
    if isinstance(cls, type) and issubclass(cls, exp.Expression)
    if cls.__module__ == nodes.__name__ and cls is not nodes.Statement
]
STATEMENTS = [cls for cls in NODE_CLASSES if issubclass(cls, nodes.Statement)]


def _rules() -> dict[str, str]:
    """Rule name → body, comments dropped; a body runs to the first ';' outside quotes."""
    text = re.sub(r"\(\*.*?\*\)", " ", (GRAMMAR / "vista.ebnf").read_text(), flags=re.S)
    found = re.findall(r'^(\w+)\s*=((?:"[^"]*"|[^";])*);', text, flags=re.M)
    return dict(found)


def _names(body: str) -> set[str]:
    """The rule names a body refers to: its words outside quoted keywords."""
    return set(re.findall(r"\b[a-z_]+\b", re.sub(r'"[^"]*"', " ", body)))


RULES = _rules()
TREES = {path.name: sqlglot.parse_one(path.read_text(), read="vista") for path in EXAMPLES}


def test_statements_are_found():
    # Guards the enumeration itself: an empty list would make every check below pass.
    assert nodes.TransferFeatures in STATEMENTS and nodes.CreateCnn in STATEMENTS
    assert "statement" in RULES and "transfer" in RULES


@pytest.mark.parametrize("cls", STATEMENTS, ids=lambda c: c.__name__)
def test_every_statement_has_its_rule_among_the_statements(cls):
    assert cls.rule, f"nodes.{cls.__name__} names no grammar rule (set `rule`)"
    assert cls.rule in RULES, f"grammar/vista.ebnf has no rule '{cls.rule}' for {cls.__name__}"
    assert cls.rule in _names(RULES["statement"]), f"'{cls.rule}' is not a kind of statement"


@pytest.mark.parametrize("cls", STATEMENTS, ids=lambda c: c.__name__)
def test_every_statement_has_an_example(cls):
    assert any(type(tree) is cls for tree in TREES.values()), (
        f"no file in grammar/examples/ parses to {cls.__name__}"
    )


def test_every_example_is_one_of_our_statements():
    others = {n: type(t).__name__ for n, t in TREES.items() if not isinstance(t, nodes.Statement)}
    assert not others


def test_every_node_is_a_statement_or_inside_an_example():
    # A statement node that forgot to subclass nodes.Statement is never inside another statement,
    # so it shows up here; so does a clause no example exercises.
    seen = {type(node) for tree in TREES.values() for node in tree.walk()}
    clauses = [cls for cls in NODE_CLASSES if not issubclass(cls, nodes.Statement)]
    missing = [cls.__name__ for cls in clauses if cls not in seen]
    assert not missing, f"in no example, and not a nodes.Statement: {missing}"


def test_every_opening_routed_to_vista_sql_starts_an_example():
    # dialect/openings.FORMS decides what is ours; DESC and DESCRIBE are both spellings to show.
    starts = defaultdict(list)
    for name, path in zip(TREES, EXAMPLES, strict=True):
        words = tuple(path.read_text().upper().split())
        for form in openings.FORMS:
            if words[: len(form.opening)] == form.opening:
                starts[form.opening].append(name)
    assert [f.opening for f in openings.FORMS if not starts[f.opening]] == []


def test_every_rule_used_is_defined_and_every_rule_is_used():
    used = set().union(*(_names(body) for body in RULES.values()))
    undefined = {
        name for name in used - RULES.keys() - SPARK_TOKENS if not name.startswith("spark_sql_")
    }
    assert not undefined, f"used in grammar/vista.ebnf but not defined: {sorted(undefined)}"
    assert RULES.keys() - used == {"statement"}, "rules nothing refers to"
