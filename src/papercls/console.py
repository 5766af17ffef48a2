"""What a stage process prints: a few labelled lines a person reads, whether on a terminal or in
a log file.

- :func:`quiet_third_party` silences, at its source, third-party output that says nothing to the
  user: progress bars of transformers, huggingface_hub and MLflow when stderr is not a terminal
  (they would write ``\\r``-redrawn lines into the log), and MLflow's notes about creating its
  database tables. Warnings are left alone.
- :func:`load_reports_held` holds back transformers' weight "LOAD REPORT" while a model loads, so
  that the caller prints it only when it says something unexpected (:func:`emit`); the report of
  a freshly initialised classification head, expected on every fine-tuning start, is dropped.
- :func:`progress_bar`: a tqdm bar on a terminal only; in a log the loops print one line per
  epoch instead.
- :func:`figure` and :func:`interval`: figures to :data:`DIGITS` decimals in summary lines.
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import os
import sys
from collections.abc import Iterator
from typing import Any

DIGITS = 4

# loggers whose records, below WARNING, only narrate (e.g. "Creating initial MLflow database
# tables...", "Updating database tables")
_NARRATING_LOGGERS = ("mlflow.store.db.utils",)
_LOAD_REPORT_LOGGER = "transformers.modeling_utils"
_LOAD_REPORT_MARK = "LOAD REPORT"


def on_terminal(stream: Any = None) -> bool:
    """Whether ``stream`` (default: the current ``sys.stderr``, where progress bars go) is an
    interactive terminal. A closed or missing stream is not."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def quiet_third_party() -> None:
    """Set up this stage process so that libraries print only what matters to the user.

    Off the terminal (stderr redirected to a file or pipe, as ``dvc repro > log`` does): no
    progress bars from transformers ("Loading weights", "Writing model shards"),
    huggingface_hub, or MLflow ("Downloading artifacts"). An explicit
    ``HF_HUB_DISABLE_PROGRESS_BARS`` or ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` in the
    environment is kept. Works whether or not those libraries are imported yet. Always:
    MLflow's database set-up notes are not printed (its warnings are)."""
    for name in _NARRATING_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    if on_terminal():
        return
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if "HF_HUB_DISABLE_PROGRESS_BARS" in os.environ:
        return  # the user's own choice
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # read when huggingface_hub is imported
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:  # reads the hub setting once, at its import
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


class _Hold(logging.Filter):
    """Keeps transformers' LOAD REPORT records out of the log, in ``held``."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if _LOAD_REPORT_MARK in str(record.msg):
            self.held.append(record)
            return False
        return True


@contextlib.contextmanager
def load_reports_held() -> Iterator[list[logging.LogRecord]]:
    """Inside the block, transformers' weight-loading reports are not printed but collected in
    the yielded list; print them with :func:`emit` when they matter. An exception in the block
    prints them first (they explain it, e.g. mismatched shapes). Other records pass."""
    logger = logging.getLogger(_LOAD_REPORT_LOGGER)
    hold = _Hold()
    logger.addFilter(hold)
    finished = False
    try:
        yield hold.held
        finished = True
    finally:
        logger.removeFilter(hold)
        if not finished:
            emit(hold.held)


def emit(records: list[logging.LogRecord]) -> None:
    """Print held log records as their loggers would have."""
    for record in records:
        logging.getLogger(record.name).handle(record)


def progress_bar(total: int, desc: str, unit: str = "it", enabled: bool | None = None):
    """A tqdm bar (rate in ``unit``/s and time left) that shows only on a terminal
    (``enabled`` None) or when ``enabled`` is true; otherwise a silent one. Not kept on screen
    once closed: the loop prints its own summary line."""
    from tqdm.auto import tqdm

    show = on_terminal() if enabled is None else bool(enabled)
    return tqdm(total=total, desc=desc, unit=unit, disable=not show, leave=False)


def figure(x: Any, digits: int = DIGITS) -> str:
    """``x`` with ``digits`` decimals (``0.9487``); ints as they are; ``n/a`` for None/NaN."""
    if x is None:
        return "n/a"
    if isinstance(x, numbers.Integral):
        return str(int(x))
    x = float(x)
    return "n/a" if x != x else f"{x:.{digits}f}"


def interval(low: Any, high: Any, digits: int = DIGITS) -> str:
    """An interval as ``0.3528..0.5064``."""
    return f"{figure(low, digits)}..{figure(high, digits)}"
