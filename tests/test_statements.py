"""Splitting scripts into statements with their original text and positions."""

from __future__ import annotations

from vista_sql.statements import is_complete, split


def test_split_keeps_text_positions_and_kind():
    script = (
        "-- a comment\n"
        "SELECT ';' AS semi;  EXPLAIN SELECT 1;\n"
        "  TRANSFER FEATURES FROM r LAYERS (a) ON i (k, b) JOIN t USING (k) TRAIN m (LABEL y);\n"
        "explain cost transfer features x"
    )
    got = [(s.text, s.line, s.col, s.ours) for s in split(script)]
    assert got == [
        ("SELECT ';' AS semi", 2, 1, False),
        ("EXPLAIN SELECT 1", 2, 22, False),
        (
            "TRANSFER FEATURES FROM r LAYERS (a) ON i (k, b) JOIN t USING (k) TRAIN m (LABEL y)",
            3,
            3,
            True,
        ),
        ("explain cost transfer features x", 4, 1, True),
    ]


def test_comment_only_script_has_no_statements():
    assert split("-- nothing here\n  ") == []


def test_is_complete_ignores_semicolons_in_strings():
    assert not is_complete("SELECT ';'")
    assert not is_complete("SELECT 1 -- ;")
    assert is_complete("SELECT 1;\n")


# One statement of each form, in the order of openings.FORMS.
EXAMPLE_OF_EACH_FORM = [
    "TRANSFER FEATURES FROM r LAYERS (a) ON i (k, b) JOIN t USING (k) TRAIN m (LABEL y)",
    "EXPLAIN TRANSFER FEATURES FROM r LAYERS (a) ON i (k, b) JOIN t USING (k) TRAIN m (LABEL y)",
    "explain cost transfer features from r layers top 2 on i (k, b) join t on t.k = i.k "
    "train m (label y)",
    "EXPLAIN PREDICT WITH best ON i (k, b) JOIN t USING (k)",
    "CREATE CNN hed FROM '/models/hed.keras'",
    "CREATE OR REPLACE CNN rn FROM resnet50 WEIGHTS RANDOM",
    "DROP CNN IF EXISTS hed",
    "SHOW CNNS",
    "DESCRIBE CNN resnet50",
    "DESC CNN resnet50",
    "DESCRIBE MODEL random_forest",
    "DESC MODEL gbt",
    "PREDICT WITH best ON i (k, b) JOIN t USING (k) WHERE t.price > 1",
    "SHOW SAVED MODELS",
    "DROP SAVED MODEL best",
    "REFRESH FEATURES shop.items",
    "SHOW FEATURE TABLES",
]


def test_every_form_of_ours_is_split_as_ours_and_parsed_by_our_parser():
    import sqlglot

    from vista_sql.dialect import nodes
    from vista_sql.dialect.openings import FORMS

    assert len(EXAMPLE_OF_EACH_FORM) == len(FORMS)
    for text, form in zip(EXAMPLE_OF_EACH_FORM, FORMS, strict=True):
        (statement,) = split(text)
        assert statement.ours, text
        tree = sqlglot.parse_one(text, read="vista")
        assert type(tree).__module__ == nodes.__name__, (text, form)


def test_look_alikes_stay_spark_sql():
    for text in ("SHOW CNNS x", "EXPLAIN TRANSFER x", "SHOW TABLES", "DESCRIBE products"):
        (statement,) = split(text)
        assert not statement.ours, text
