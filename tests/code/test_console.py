"""papercls.console: figures to 4 decimals, third-party noise off the terminal, transformers'
load report only when it says something unexpected."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from papercls.console import emit, figure, interval, load_reports_held, on_terminal


def test_figure_has_four_decimals():
    assert figure(0.9487385936661299) == "0.9487"
    assert figure(np.float32(0.5)) == "0.5000"
    assert figure(1) == "1"  # counts stay counts
    assert figure(np.int64(300)) == "300"
    assert figure(None) == "n/a"
    assert figure(float("nan")) == "n/a"
    assert figure(0.123456, digits=2) == "0.12"


def test_interval_is_two_figures_joined_by_dots():
    assert interval(0.35279011818944034, 0.5064175973512339) == "0.3528..0.5064"
    assert interval(None, 0.5) == "n/a..0.5000"


class _Stream:
    def __init__(self, tty: bool | None) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        if self.tty is None:
            raise ValueError("I/O operation on closed file")
        return self.tty


def test_on_terminal_reads_the_stream_and_survives_a_closed_one():
    assert on_terminal(_Stream(True)) is True
    assert on_terminal(_Stream(False)) is False
    assert on_terminal(_Stream(None)) is False
    assert on_terminal(object()) is False


_PROBE = textwrap.dedent(
    """
    import json, logging, os, sys
    import transformers  # imported before, as the train stage does
    from papercls.console import quiet_third_party
    quiet_third_party()
    from huggingface_hub.utils import are_progress_bars_disabled
    from transformers.utils import logging as hf_logging
    print(json.dumps({
        "transformers_bars": hf_logging.is_progress_bar_enabled(),
        "hub_bars_disabled": are_progress_bars_disabled(),
        "mlflow_bars": os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"),
        "db_notes": logging.getLogger("mlflow.store.db.utils").isEnabledFor(logging.INFO),
    }))
    """
)


def _probe(**env: str) -> dict:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_DISABLE_PROGRESS_BARS", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    }
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env={**base, **env},
        capture_output=True,  # stderr is a pipe: not a terminal
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_off_the_terminal_library_progress_bars_are_off():
    got = _probe()
    assert got == {
        "transformers_bars": False,
        "hub_bars_disabled": True,
        "mlflow_bars": "false",
        "db_notes": False,
    }


def test_an_explicit_user_setting_is_kept():
    got = _probe(HF_HUB_DISABLE_PROGRESS_BARS="0", MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="true")
    assert got["transformers_bars"] is True
    assert got["hub_bars_disabled"] is False
    assert got["mlflow_bars"] == "true"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture()
def shown():
    """Messages of transformers' loading logger that get past its filters (what is printed)."""
    logger = logging.getLogger("transformers.modeling_utils")
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def _report(message: str) -> None:
    logging.getLogger("transformers.modeling_utils").warning(message)


def test_held_reports_are_kept_back_other_records_pass(shown):
    with load_reports_held() as held:
        _report("BertModel LOAD REPORT from: x")
        _report("something else")
    assert shown == ["something else"]
    assert len(held) == 1
    emit(held)
    assert shown[-1] == "BertModel LOAD REPORT from: x"
    _report("AnyModel LOAD REPORT after the block")
    assert shown[-1] == "AnyModel LOAD REPORT after the block"


def test_held_reports_are_printed_when_the_load_fails(shown):
    with pytest.raises(RuntimeError, match="size mismatch"):
        with load_reports_held():
            _report("BertModel LOAD REPORT: MISMATCH")
            raise RuntimeError("size mismatch")
    assert shown == ["BertModel LOAD REPORT: MISMATCH"]


def test_new_head_report_is_silent_but_a_missing_encoder_weight_is_reported(
    tiny_bert_dir, tmp_path, shown
):
    from transformers import BertModel

    from papercls.models.fused_head import build_baseline

    build_baseline(str(tiny_bert_dir))
    assert not [m for m in shown if "LOAD REPORT" in m]

    no_pooler = tmp_path / "no_pooler"
    BertModel.from_pretrained(tiny_bert_dir, add_pooling_layer=False).save_pretrained(no_pooler)
    for f in Path(tiny_bert_dir).glob("tokenizer*"):
        shutil.copy(f, no_pooler)
    build_baseline(str(no_pooler))
    reports = [m for m in shown if "BertForSequenceClassification LOAD REPORT" in m]
    assert len(reports) == 1
    assert "bert.pooler.dense.weight" in reports[0] and "classifier.weight" in reports[0]


def test_cli_predict_log_has_no_library_progress_bars(tiny_bert_dir, tmp_path):
    """`papercls predict 2> log`: transformers' "Loading weights" bar stays out of the log."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    model = tmp_path / "model"
    config = BertConfig.from_pretrained(tiny_bert_dir, num_labels=2)
    BertForSequenceClassification(config).save_pretrained(model)
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(model)
    csv = tmp_path / "in.csv"
    csv.write_text("uuid,title,author,abstract\nb2,Cancer therapy,A B,A clinical trial.\n")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_PROGRESS_BARS"}
    proc = subprocess.run(
        [sys.executable, "-m", "papercls.cli", "predict", "--model-dir", str(model),
         "--input", str(csv), "--output", str(tmp_path / "out.csv")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out.csv").exists()
    assert "Loading weights" not in proc.stderr and "\r" not in proc.stderr, proc.stderr
