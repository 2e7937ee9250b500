"""README's "Reliability" table lists exactly the cases the suite runs."""

from __future__ import annotations

from reliability import cases


def test_readme_table_is_generated_from_the_cases():
    assert cases.readme_table(cases.README.read_text()) == cases.table(), (
        "refresh it: .venv/bin/python tests/reliability/cases.py --write"
    )


def test_every_case_has_a_unique_id_and_there_are_at_least_forty():
    ids = [case.id for case in cases.ALL]
    assert len(ids) == len(set(ids)) and len(ids) >= 40
