"""What the served model refuses before any inference, with a message the scoring server sends
back (HTTP 400): a request over the row limit (one 100k-row request grew a worker to 10 GB;
the limit is the model config's ``max_rows``, small here), values that are not strings (a
number, a list or an object was rendered as its Python text and scored), and a request without
rows (it was answered as if columns were missing). Requests are parsed as the scoring server
parses a JSON body."""

from __future__ import annotations

import json

import pytest
from mlflow.exceptions import MlflowException
from mlflow.pyfunc.scoring_server import infer_and_parse_data

from papercls.tracking.serving import EXAMPLE_ROWS, checked_config

TEMPLATE = "{title} {sep} {Keywords} {sep} {abstract}"


class _Scored(Exception):
    """Raised instead of running a model: the request got past the checks."""


@pytest.fixture()
def served(monkeypatch):
    from papercls.inference import encoder
    from papercls.tracking.served_model import PaperClassifier

    def no_model(*args, **kwargs):
        raise _Scored

    monkeypatch.setattr(encoder, "mean_proba", no_model)
    model = PaperClassifier()
    model.config = checked_config({"template": TEMPLATE, "max_rows": 3})
    return model


def _body(records) -> object:
    return infer_and_parse_data(json.loads(json.dumps({"dataframe_records": records})))


def _refused(model, records) -> str:
    with pytest.raises(MlflowException) as info:
        model.predict(None, _body(records))
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    return info.value.message


def test_rows_within_the_limit_reach_the_model(served):
    with pytest.raises(_Scored):
        served.predict(None, _body(EXAMPLE_ROWS + EXAMPLE_ROWS[:1]))


def test_a_request_over_the_row_limit_is_refused_with_the_limit(served):
    message = _refused(served, EXAMPLE_ROWS * 2)
    assert "4 rows in one request" in message and "limit is 3 rows" in message
    assert "batch" in message


def test_the_default_limit_is_ten_thousand_rows():
    assert checked_config({})["max_rows"] == 10_000
    with pytest.raises(ValueError, match="'max_rows'"):
        checked_config({"max_rows": 0})


@pytest.mark.parametrize(
    ("value", "kind"),
    [({"a": 1}, "dict"), ([1, 2], "list"), (2020, "int"), (2.5, "float"), (True, "bool")],
)
@pytest.mark.parametrize("column", ["title", "abstract", "Keywords"])
def test_a_value_that_is_not_a_string_is_refused_naming_row_and_column(served, column, value, kind):
    rows = [dict(r) for r in EXAMPLE_ROWS]
    rows[1][column] = value
    message = _refused(served, rows)
    assert f"row 2, column {column!r}" in message and f"expected a string, got {kind}" in message


def test_a_text_value_that_is_not_a_string_is_refused(served):
    message = _refused(served, [{"text": "fine"}, {"text": ["a", "list"]}])
    assert "row 2, column 'text'" in message and "expected a string, got list" in message


def test_missing_values_are_still_empty_fields(served):
    rows = [dict(r) for r in EXAMPLE_ROWS]
    rows[0]["Keywords"] = None
    del rows[1]["author"]
    with pytest.raises(_Scored):
        served.predict(None, _body(rows))


@pytest.mark.parametrize(("records", "what"), [([], "no rows"), ([{}, {}], "rows without fields")])
def test_a_request_without_rows_or_fields_says_so(served, records, what):
    message = _refused(served, records)
    assert f"the request holds {what}" in message and "missing column" not in message
