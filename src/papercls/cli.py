"""`papercls` command: the package's entry points outside DVC."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path


def _split_settings(params_path: str | None) -> tuple[dict, str]:
    """The ``preprocess`` section `papercls validate` checks a train file against, and where it
    came from: ``--params``, else the repository's params.yaml, else the defaults."""
    from papercls.config.check import check_section, read_params_file
    from papercls.config.params import repo_root
    from papercls.data.preprocess import DEFAULT_SPLIT
    from papercls.errors import ParamsError

    path = params_path or repo_root() / "params.yaml"
    if params_path is None and not Path(path).is_file():
        return dict(DEFAULT_SPLIT), "defaults"
    params = read_params_file(path)
    section = params.get("preprocess") if isinstance(params, dict) else None
    problems = check_section("preprocess", section)
    if problems:
        raise ParamsError(path, problems)
    return {**DEFAULT_SPLIT, **section}, str(path)


def _validate(argv: list[str]) -> int:
    from papercls.data.schema import load_test, load_train
    from papercls.errors import InputError, ParamsError

    ap = argparse.ArgumentParser(prog="papercls validate", description="Check a CSV's contract.")
    ap.add_argument("csv")
    ap.add_argument("--kind", choices=["train", "test"], default="train")
    ap.add_argument(
        "--params",
        help="params.yaml whose preprocess split (valid_size, folds, seed) a train file must "
        "fit (default: the repository's params.yaml, else valid_size 0.2, folds 5, seed 42)",
    )
    args = ap.parse_args(argv)
    try:
        df = load_train(args.csv) if args.kind == "train" else load_test(args.csv, keep_label=True)
        if args.kind == "train":
            from papercls.data.preprocess import split_labelled

            cfg, source = _split_settings(args.params)
            tr, va, _ = split_labelled(df["label"].to_numpy(), args.csv, cfg)
    except (InputError, ParamsError) as exc:
        for line in exc.lines() if isinstance(exc, ParamsError) else [str(exc)]:
            print(f"error: {line}", file=sys.stderr)
        return 2
    if args.kind == "train":
        print(
            f"{args.csv}: {len(df)} rows ok ({len(tr)} train / {len(va)} valid, "
            f"{cfg.get('folds', 5)} folds; split settings: {source})"
        )
    else:
        print(f"{args.csv}: {len(df)} rows ok")
    return 0


def _check_params(argv: list[str]) -> int:
    from papercls.config.check import check_params_file
    from papercls.config.params import repo_root
    from papercls.errors import ParamsError

    ap = argparse.ArgumentParser(
        prog="papercls check-params",
        description="Check every section of a params.yaml (what the check_params stage does).",
    )
    ap.add_argument("params", nargs="?", help="default: params.yaml of the repository")
    args = ap.parse_args(argv)
    path = args.params or os.path.relpath(repo_root() / "params.yaml")
    try:
        check_params_file(path)
    except ParamsError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    print(f"{path}: ok")
    return 0


def _lazy(module: str, func: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), func)(argv) or 0)

    return run


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "validate": (_validate, "check a train or test CSV against the data contract"),
    "check-params": (_check_params, "check every section of params.yaml"),
    "sample": (_lazy("papercls.synthetic.sample", "main"), "generate a synthetic labelled corpus"),
    "predict": (
        _lazy("papercls.inference.predict_cli", "predict_main"),
        "label any CSV with a trained model",
    ),
    "spark-predict": (
        _lazy("papercls.inference.spark", "main"),
        "score a corpus on Spark with the registered model",
    ),
    "report": (_lazy("papercls.report", "main"), "markdown diff of params and metrics"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: papercls COMMAND [ARGS]\n\ncommands:")
        for name, (_, help_) in COMMANDS.items():
            print(f"  {name:<14} {help_}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return COMMANDS[argv[0]][0](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
