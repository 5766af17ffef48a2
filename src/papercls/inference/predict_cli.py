"""``papercls predict``: argument parsing and exit status around :func:`predict_csv`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from papercls.evaluation.threshold_file import read_threshold
from papercls.inference.classifier import describe_engine
from papercls.inference.engine import ENGINES, PRECISIONS, Engine, resolve_engine
from papercls.inference.outputs import check_predict_output
from papercls.inference.stream import DEFAULT_CHUNK_SIZE, predict_csv

# `papercls predict` runs bf16 where it is native: it agreed with fp32 on >= 99.5% of labels on
# real abstracts (README "Performance"); --precision fp32 gives the pipeline's exact figures.
CLI_PRECISION = "auto"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="papercls predict",
        description="Classify a CSV of papers (uuid,title,abstract[,author][,Keywords]) and "
        "write uuid,label (1 = medical).",
    )
    ap.add_argument("--model-dir", required=True, help="saved model folder (models/<name>)")
    ap.add_argument("--input", required=True, help="CSV or .parquet to classify (- = stdin)")
    ap.add_argument(
        "--output",
        required=True,
        help="file to write (uuid,label): .csv, or .parquet; - = CSV on stdout",
    )
    ap.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --output that is not a previous output of papercls predict",
    )
    src = ap.add_mutually_exclusive_group()
    src.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="decision threshold (default: the model's tuned one in metrics/thresholds.json, "
        "else 0.5)",
    )
    src.add_argument(
        "--thresholds-file", default=None, help="thresholds.json written by tune_thresholds"
    )
    ap.add_argument(
        "--model-name",
        default=None,
        help="entry of the thresholds file to use (default: the model folder's name)",
    )
    ap.add_argument(
        "--chunk-size",
        type=int,
        default=DEFAULT_CHUNK_SIZE,
        help=f"rows read, predicted and written at a time (default {DEFAULT_CHUNK_SIZE})",
    )
    ap.add_argument("--template", default=None, help="text template (default: the trained one)")
    ap.add_argument(
        "--max-length", type=int, default=None, help="tokens per text (default: as trained)"
    )
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--with-prob", action="store_true", help="add a prob column")
    _engine_arguments(ap)
    return ap


def check_output(input_path: str | Path, output_path: str | Path) -> None:
    """Refuse an output path that is a directory, lies under a file, or is the input file
    itself (also through a symlink, a hard link or another spelling): writing it would
    replace the CSV being classified."""
    out, inp = Path(output_path), Path(input_path)
    if out.is_dir():
        raise ValueError(f"--output {out} is a directory; give the path of a CSV file to write")
    parent = out.parent
    if parent.exists() and not parent.is_dir():
        raise ValueError(f"--output {out}: {parent} is not a directory")
    if out.exists() and inp.exists() and os.path.samefile(out, inp):
        raise ValueError(
            f"--output {out} is the input file {inp}: it would be replaced by the labels; "
            "write them to another file"
        )


def _engine_arguments(ap: argparse.ArgumentParser) -> None:
    """--engine, --precision (or its shorthand --int8) and --onnx-dir: papercls.inference.engine."""
    ap.add_argument(
        "--engine",
        choices=ENGINES,
        default="torch",
        help="encoders: torch (default) or onnx (ONNX Runtime on an export made once and kept "
        "beside the model, in <model-dir>.onnx/)",
    )
    prec = ap.add_mutually_exclusive_group()
    prec.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=CLI_PRECISION,
        help=f"encoders (default {CLI_PRECISION}): auto = bf16 where the CPU has native bf16 "
        "(AVX-512 BF16/AMX), else fp32; fp32 = exact; bf16 (torch only); int8 = dynamic int8 "
        "(faster; a few labels may differ from fp32)",
    )
    prec.add_argument("--int8", action="store_true", help="the same as --precision int8")
    ap.add_argument(
        "--onnx-dir",
        default=None,
        help="where the onnx engine keeps the export (default: <model-dir>.onnx)",
    )


def _engine(args: argparse.Namespace):
    from papercls.inference.classifier import is_tfidf_dir

    if is_tfidf_dir(args.model_dir) and (args.engine, args.precision, args.int8) == (
        "torch",
        "auto",
        False,
    ):  # the encoder options do not apply: torch is not even imported
        return Engine("torch", "fp32", "auto")
    try:
        return resolve_engine(args.engine, "int8" if args.int8 else args.precision)
    except ValueError as exc:  # e.g. bf16 with onnx: name the options
        raise ValueError(f"--engine {args.engine} --precision {args.precision}: {exc}") from None


def choose_threshold(args: argparse.Namespace) -> tuple[float, str]:
    """(threshold, where it came from): --threshold, else the model's entry in
    --thresholds-file, else the tuned threshold metrics/thresholds.json records for a model of
    this repository (``models/<name>``, or --model-name), else 0.5."""
    from papercls.config.params import repo_root
    from papercls.evaluation.threshold_file import recorded_threshold

    if args.threshold is not None:
        return args.threshold, "--threshold"
    model_dir = Path(args.model_dir).resolve()
    if args.thresholds_file:
        name = args.model_name or model_dir.name
        return read_threshold(args.thresholds_file, name), f"{args.thresholds_file} [{name}]"
    root = repo_root()
    recorded = os.path.relpath(root / "metrics" / "thresholds.json")
    name = args.model_name
    if name is None and model_dir.parent == (root / "models").resolve():
        name = model_dir.name
    if name is None:
        return 0.5, f"default; {args.model_dir} is not a model of {root / 'models'}"
    value = recorded_threshold(recorded, name)
    if value is None:
        return 0.5, f"default; no tuned threshold for {name!r} in {recorded}"
    return value, f"tuned, {recorded} [{name}]"


def _check_args(args: argparse.Namespace, threshold: float) -> None:
    from papercls.config.params import repo_root

    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    if (args.max_length is not None and args.max_length < 1) or args.batch_size < 1:
        raise ValueError("--max-length and --batch-size must be positive")
    if args.chunk_size < 1:
        raise ValueError(f"--chunk-size must be positive, got {args.chunk_size}")
    if args.input != "-":
        check_output(args.input, args.output)
    check_predict_output(args.output, repo_root(), args.force)


def predict_main(argv: list[str] | None = None) -> int:
    """Entry point of ``papercls predict``; returns the exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    # with --output -, standard output holds the labels: messages go to standard error
    info = sys.stderr if args.output == "-" else sys.stdout
    try:
        threshold, source = choose_threshold(args)
        _check_args(args, threshold)
        engine = _engine(args)
        out = predict_csv(
            args.model_dir,
            args.input,
            args.output,
            threshold=threshold,
            template=args.template,
            max_length=args.max_length,
            batch_size=args.batch_size,
            with_prob=args.with_prob,
            engine=engine,
            onnx_dir=args.onnx_dir,
            chunk_size=args.chunk_size,
        )
    except (ValueError, OSError) as exc:  # InputError is a ValueError; OSError: a path
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.output}: {out['rows']} rows, {out['positives']} medical "
        f"(threshold {threshold:.4g}, {source}; {describe_engine(args.model_dir, engine)})",
        file=info,
    )
    return 0
