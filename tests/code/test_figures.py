"""PNG figures of evaluate / tune_thresholds: valid images of the stated size, one per figure,
models without training history left out, byte-identical when rendered again."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import matplotlib
import matplotlib.image
import pandas as pd
import pytest
from test_evaluate import MODELS, write_predictions

from papercls.evaluation.evaluate import run_evaluate, run_tune_thresholds
from papercls.evaluation.figures import load_history

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# (width, height) in pixels: 8 x 5 inches at 100 dpi; confusion: 3 panels of 3.6 inches
SIZES = {
    "roc.png": (800, 500),
    "pr.png": (800, 500),
    "training.png": (800, 500),
    "f1_threshold.png": (800, 500),
    "confusion.png": (1080, 400),
}
TUNE = {"method": "f1", "bootstrap": 50, "seed": 1}


def write_history(root: Path, model: str, epochs: int = 3, folds: int = 0) -> None:
    rows = [
        {"epoch": e, "train_loss": 0.7 / e, "valid_loss": 0.6 / e + 0.1, "valid_f1": 0.6 + e / 20}
        for e in range(1, epochs + 1)
    ]
    df = pd.DataFrame(rows)
    if folds:
        df = pd.concat([df.assign(fold=k) for k in range(folds)])[["fold", *df.columns]]
    path = root / "metrics" / model / "history.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)


def render_all(root: Path, figures_dir: Path | None = None) -> list[Path]:
    ev = run_evaluate(
        MODELS, root / "predictions", root / "metrics", root / "plots", figures_dir=figures_dir
    )
    tuned = run_tune_thresholds(
        MODELS, TUNE, 0.4, root / "predictions", root / "metrics", figures_dir=figures_dir
    )
    return ev.figures + tuned.figures


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk, checking each CRC."""
    assert data[:8] == PNG_SIGNATURE
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in chunk {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("figures")
    write_predictions(root)
    write_history(root, "baseline")
    write_history(root, "topline", folds=3)  # k-fold history: one curve, mean over folds
    return root, render_all(root)


def test_one_valid_png_per_figure_of_the_stated_size(rendered):
    root, paths = rendered
    figures_dir = root / "plots" / "figures"
    assert [p.name for p in paths] == list(SIZES)
    assert all(p.parent == figures_dir for p in paths)
    assert sorted(p.name for p in figures_dir.iterdir()) == sorted(SIZES)  # no temp files
    for path in paths:
        chunks = png_chunks(path.read_bytes())
        kind, ihdr = chunks[0]
        assert kind == b"IHDR" and chunks[-1][0] == b"IEND"
        assert struct.unpack(">II", ihdr[:8]) == SIZES[path.name], path.name
        pixels = matplotlib.image.imread(path)
        assert pixels.shape[:2] == SIZES[path.name][::-1]
        assert pixels.std() > 0.05, f"{path.name} is blank"  # something was drawn
        kinds = {k for k, _ in chunks}
        assert b"tIME" not in kinds
        assert not any(b"Software" in body for k, body in chunks if k in (b"tEXt", b"iTXt"))


def test_rendering_is_byte_identical(rendered, tmp_path):
    root, paths = rendered
    again = render_all(root, figures_dir=tmp_path / "again")
    for first, second in zip(paths, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name
    # a user's matplotlibrc (here: changed defaults) does not change the files
    with matplotlib.rc_context({"lines.linewidth": 4.0, "font.size": 16, "axes.grid": True}):
        styled = render_all(root, figures_dir=tmp_path / "styled")
    for first, second in zip(paths, styled, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_rendering_in_a_fresh_interpreter_gives_the_same_bytes(rendered, tmp_path):
    root, paths = rendered
    code = (
        "import sys; sys.path.insert(0, sys.argv[2]);"
        "from pathlib import Path; from test_figures import render_all;"
        "render_all(Path(sys.argv[1]), Path(sys.argv[3]))"
    )
    here = Path(__file__).parent
    subprocess.run(
        [sys.executable, "-c", code, str(root), str(here), str(tmp_path / "fresh")], check=True
    )
    for path in paths:
        assert (tmp_path / "fresh" / path.name).read_bytes() == path.read_bytes(), path.name


def test_models_without_history_are_skipped(tmp_path):
    write_predictions(tmp_path)
    (tmp_path / "metrics").mkdir()
    none = run_evaluate(MODELS, tmp_path / "predictions", tmp_path / "metrics", tmp_path / "p0")
    write_history(tmp_path, "baseline")
    some = run_evaluate(MODELS, tmp_path / "predictions", tmp_path / "metrics", tmp_path / "p1")
    assert [p.name for p in none.figures] == [p.name for p in some.figures]
    curves_none, curves_some = none.figures[2].read_bytes(), some.figures[2].read_bytes()
    assert curves_none != curves_some  # baseline's curve is drawn once it has a history
    assert struct.unpack(">II", png_chunks(curves_none)[0][1][:8]) == SIZES["training.png"]
    # ROC and PR figures do not depend on histories
    assert none.figures[0].read_bytes() == some.figures[0].read_bytes()


def test_load_history(tmp_path):
    assert load_history(tmp_path / "missing.csv") is None
    bad = tmp_path / "history.csv"
    bad.write_text("epoch,train_loss,valid_f1\n1,0.5,0.8\n")
    with pytest.raises(ValueError, match=r"history\.csv: missing column\(s\) \['valid_loss'\]"):
        load_history(bad)
    bad.write_text("epoch,train_loss,valid_loss,valid_f1\n1,0.5,oops,0.8\n")
    with pytest.raises(ValueError, match="history.csv: column 'valid_loss' holds non-numbers"):
        load_history(bad)


def test_bad_history_stops_evaluate_before_any_write(tmp_path):
    write_predictions(tmp_path)
    path = tmp_path / "metrics" / "topline" / "history.csv"
    path.parent.mkdir(parents=True)
    path.write_text("epoch;loss\n1;0.5\n")
    with pytest.raises(ValueError, match=r"topline[/\\]history\.csv: missing column"):
        run_evaluate(MODELS, tmp_path / "predictions", tmp_path / "metrics", tmp_path / "plots")
    assert not (tmp_path / "plots").exists()
    assert sorted(p.name for p in path.parent.parent.rglob("*") if p.is_file()) == ["history.csv"]


def test_confusion_figure_grows_with_the_models(tmp_path):
    write_predictions(tmp_path, models=["tfidf"])
    one = run_tune_thresholds(["tfidf"], TUNE, 0.4, tmp_path / "predictions", tmp_path / "m")
    confusion = png_chunks(one.figures[1].read_bytes())[0][1]
    assert struct.unpack(">II", confusion[:8]) == (720, 400)  # at least two panels wide
    assert one.figures[0].parent == tmp_path / "plots" / "figures"  # beside the metrics dir


@pytest.mark.parametrize("n", range(1, 10))
def test_confusion_grid_has_no_empty_row_and_few_empty_cells(n):
    from papercls.evaluation.figures import confusion_grid

    rows, cols = confusion_grid(n)
    assert rows * cols >= n
    assert (rows - 1) * cols < n  # the last row holds at least one panel
    assert rows * cols - n < rows  # at most one empty cell a row
    assert cols <= 4
    if n == 4:
        assert (rows, cols) == (1, 4)  # the pipeline's four models: one row, no empty cell


def test_training_figure_tells_train_from_valid_and_frames_one_epoch(tmp_path):
    from matplotlib.figure import Figure

    from papercls.evaluation.figures import draw_training

    write_history(tmp_path, "baseline", epochs=1)
    fig = Figure()
    draw_training(fig, {"baseline": load_history(tmp_path / "metrics/baseline/history.csv")})
    loss_ax, f1_ax = fig.axes
    train, valid = loss_ax.get_lines()
    style = {(line.get_linestyle(), line.get_marker()) for line in (train, valid)}
    assert len(style) == 2  # train and valid drawn differently, not only by colour
    for ax in (loss_ax, f1_ax):
        assert ax.get_xlim() == (0.5, 1.5)  # the one epoch centred, not a 0.1-wide axis
        assert list(ax.get_xticks()) == [1.0]  # whole epochs only
    # a single epoch: the values are written out (write_history: train 0.7, valid 0.7, F1 0.65)
    assert sorted(t.get_text() for t in loss_ax.texts) == ["0.7000", "0.7000"]
    assert [t.get_text() for t in f1_ax.texts] == ["0.6500"]
