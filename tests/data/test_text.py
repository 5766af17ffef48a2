"""Model text rendering and splitting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from papercls.data.text import assign_folds, build_texts, dedupe_authors, split_train_valid


def test_template_renders_and_drops_empty_fields() -> None:
    df = pd.DataFrame(
        {"title": ["  A\ttitle ", "B"], "abstract": ["x\n\ny", "z"], "Keywords": ["k1, k2", ""]}
    )
    texts = build_texts(df, "{title} {sep} {Keywords} {sep} {abstract}")
    assert texts == ["A title [SEP] k1, k2 [SEP] x y", "B [SEP] z"]


def test_template_rejects_unknown_field() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        build_texts(pd.DataFrame({"title": ["a"]}), "{title} {journal}")


def test_missing_column_renders_empty() -> None:
    assert build_texts(pd.DataFrame({"title": ["T"]}), "{title} {sep} {Keywords}") == ["T"]


def test_repeated_author_list_is_deduplicated() -> None:
    assert dedupe_authors("Ann Lee, Bo Li, Ann Lee, Bo Li") == "Ann Lee, Bo Li"
    assert dedupe_authors("Ann Lee, Bo Li, Cy Ho") == "Ann Lee, Bo Li, Cy Ho"


def test_split_is_seeded_and_stratified() -> None:
    labels = np.array([0] * 70 + [1] * 30)
    tr1, va1 = split_train_valid(labels, 0.2, seed=7)
    tr2, va2 = split_train_valid(labels, 0.2, seed=7)
    _, va3 = split_train_valid(labels, 0.2, seed=8)
    assert np.array_equal(va1, va2) and not np.array_equal(va1, va3)
    assert len(va1) == 20 and labels[va1].sum() == 6
    assert set(tr1) | set(va1) == set(range(100)) and not set(tr1) & set(va1)


def test_folds_are_stratified() -> None:
    labels = np.array([0] * 50 + [1] * 25)
    folds = assign_folds(labels, 5, seed=3)
    assert sorted(set(folds)) == [0, 1, 2, 3, 4]
    for k in range(5):
        assert labels[folds == k].sum() == 5


def test_the_separator_is_defined_once() -> None:
    """Every module takes the template separator from ``papercls.data.template.SEP``: no other
    string in the package's code spells it (docstrings may)."""
    import ast
    from pathlib import Path

    from papercls.data.template import SEP

    package = Path(__file__).resolve().parents[2] / "src" / "papercls"
    spelled = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if id(node) not in docs and (SEP in node.value or "\\[SEP\\]" in node.value):
                spelled.append(f"{path.relative_to(package)}:{node.lineno}")
    assert [s.split(":")[0] for s in spelled] == ["data/template.py"], spelled
