"""What the served model accepts: paper rows in the CSV's columns (rendered like the preprocess
stage renders a CSV), or a ``text`` column; its settings (threshold, template) checked."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from papercls.data.text import build_texts
from papercls.errors import InputError
from papercls.tracking.request import as_frame, request_texts
from papercls.tracking.serving import checked_config, input_example, prepared_template

TEMPLATE = "{title} {sep} {Keywords} {sep} {abstract}"
ROWS = [
    {"title": " Aspirin  and stroke", "abstract": "A trial.", "Keywords": "stroke", "author": "A"},
    {"title": "Graphene phonons", "abstract": "We compute.", "Keywords": None, "author": "B, B"},
    {"title": "", "abstract": "Only an abstract here.", "Keywords": "x", "author": None},
]


def test_paper_rows_are_rendered_like_the_preprocess_stage_renders_a_csv():
    frame = pd.DataFrame(ROWS)
    csv_like = frame.fillna("")  # an empty CSV cell reads as ""
    assert request_texts(frame, TEMPLATE) == build_texts(csv_like, TEMPLATE)
    assert request_texts(frame, TEMPLATE) == [
        "Aspirin and stroke [SEP] stroke [SEP] A trial.",
        "Graphene phonons [SEP] We compute.",
        "x [SEP] Only an abstract here.",
    ]


def test_optional_columns_may_be_absent_and_extra_columns_are_ignored():
    frame = pd.DataFrame({"uuid": ["u1"], "title": ["T"], "abstract": ["A b."], "year": [2020]})
    assert request_texts(frame, "{title} {sep} {Keywords} {sep} {abstract}") == ["T [SEP] A b."]
    assert request_texts(frame, "{abstract} {author}") == ["A b."]


@pytest.mark.parametrize("column", ["keywords", "Title", "TEXT"])
def test_a_column_in_another_case_is_refused(column):
    """``keywords`` would be ignored, its words missing from the model text."""
    frame = pd.DataFrame({"title": ["T"], "abstract": ["A b."], column: ["cancer"]})
    with pytest.raises(InputError, match=f"column {column!r}.* only in case") as info:
        request_texts(frame, TEMPLATE)
    assert info.value.column == column


def test_a_text_column_is_taken_as_it_is():
    frame = pd.DataFrame({"uuid": ["a", "b"], "text": ["t one [SEP] x", "t two"]})
    assert request_texts(frame, TEMPLATE) == ["t one [SEP] x", "t two"]
    assert request_texts(frame, None) == ["t one [SEP] x", "t two"]


@pytest.mark.parametrize(
    ("frame", "template", "where", "what"),
    [
        (pd.DataFrame({"title": ["T"]}), TEMPLATE, "column 'abstract'", "missing column"),
        (pd.DataFrame({"uuid": ["u"]}), TEMPLATE, "column 'title'", "missing column"),
        (pd.DataFrame(ROWS[:1]), None, "column 'title'", "without a text template"),
        (
            pd.DataFrame({"title": ["T"], "abstract": ["A"], "text": ["t"]}),
            TEMPLATE,
            "column 'text'",
            "not both",
        ),
        (pd.DataFrame({"text": ["fine", " "]}), TEMPLATE, "row 2, column 'text'", "empty text"),
        (
            pd.DataFrame({"title": ["T", " ", "U"], "abstract": ["A", None, "B"]}),
            TEMPLATE,
            "row 2, column 'title'",
            "both title and abstract are empty",
        ),
    ],
)
def test_bad_rows_name_the_row_and_the_column(frame, template, where, what):
    with pytest.raises(InputError) as info:
        request_texts(frame, template)
    message = str(info.value)
    assert message.startswith("file request, ") and where in message and what in message


def test_inputs_other_than_a_frame():
    assert as_frame(ROWS).columns.tolist() == ["title", "abstract", "Keywords", "author"]
    assert as_frame({"text": ["a", "b"]})["text"].tolist() == ["a", "b"]
    assert as_frame(["a", "b"])["text"].tolist() == ["a", "b"]
    assert as_frame("a")["text"].tolist() == ["a"]
    with pytest.raises(InputError, match="expected rows"):
        as_frame([1, 2])


def test_no_rows_give_no_texts():
    assert request_texts(pd.DataFrame({"title": [], "abstract": []}), TEMPLATE) == []


def test_config_is_checked_and_completed():
    assert checked_config({"threshold": 0.25, "template": TEMPLATE}) == {
        "threshold": 0.25,
        "template": TEMPLATE,
        "max_length": None,
        "batch_size": 64,
        "max_rows": 10_000,
    }
    assert checked_config(None)["threshold"] == 0.5


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"threshold": 1.5}, "'threshold'"),
        ({"threshold": float("nan")}, "'threshold'"),
        ({"threshold": "high"}, "'threshold'"),
        ({"threshold": True}, "'threshold' must be a number"),  # checked as a thresholds file's
        ({"template": 3}, "'template'"),
        ({"batch_size": 0}, "'batch_size'"),
        ({"max_length": 2.5}, "'max_length'"),
        ({"max_length": True}, "'max_length'"),
    ],
)
def test_bad_config_names_the_key(config, key):
    with pytest.raises(ValueError, match=key):
        checked_config(config)


def test_prepared_template_reads_meta_json(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the preprocess stage"):
        prepared_template(tmp_path)
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        prepared_template(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"prior": 0.5}))
    with pytest.raises(ValueError, match="no 'template'"):
        prepared_template(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"template": TEMPLATE}))
    assert prepared_template(tmp_path) == TEMPLATE


def test_input_example_is_rows_the_model_takes():
    rows = input_example(TEMPLATE)
    assert {"title", "abstract", "Keywords", "author"} == set(rows.columns)
    assert len(request_texts(rows, TEMPLATE)) == 2
    texts = input_example(None)
    assert texts.columns.tolist() == ["text"] and len(request_texts(texts, None)) == 2
