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
